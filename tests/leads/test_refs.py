"""Job payloads keep what was set and nothing more: a lead update's job carries only the
fields the update carried, from the front door through the fan-out to the CRM job."""

from __future__ import annotations

from tackbridge.crm.handlers import CRM_LEAD_UPDATE_KIND
from tackbridge.inbound.kinds import LEAD_UPDATED
from tackbridge.leads.refs import LeadUpdateRef


def test_a_lead_update_job_carries_only_its_fields() -> None:
    update = LeadUpdateRef(leadID="L1", updateID=7, status="Lead")
    stored = LEAD_UPDATED.dump(update)
    assert stored == {"leadID": "L1", "updateID": 7, "status": "Lead"}
    again = LEAD_UPDATED.parse(stored)
    assert again.model_fields_set == {"leadID", "updateID", "status"}
    assert CRM_LEAD_UPDATE_KIND.dump(again) == stored
    assert CRM_LEAD_UPDATE_KIND.key_of(again) == "crm.lead.updated:L1:7"


def test_a_field_set_to_none_is_carried() -> None:
    cleared = LeadUpdateRef(leadID="L1", updateID=8, charge_state=None)
    assert LEAD_UPDATED.dump(cleared) == {"leadID": "L1", "updateID": 8, "charge_state": None}
