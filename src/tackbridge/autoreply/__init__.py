"""Speed to lead: per-business rules that choose and render the automatic first reply."""
