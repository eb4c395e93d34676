"""The CRM side: leads become Coperniq opportunities (or signed webhook events), conversations
become notes, and Coperniq automations become Thumbtack job statuses."""
