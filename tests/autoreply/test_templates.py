"""Reply templates: what validation accepts, that accepted ones always render, and that the
sandbox keeps templates away from Python internals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError

from tackbridge.autoreply.templates import (
    ENVIRONMENT,
    MAX_REPLY_CHARS,
    TemplateError,
    check_template,
    default_reply,
    render,
    variables_for,
)
from tackbridge.leads.models import Detail, LeadInput

LEAD = LeadInput(
    lead_id="1",
    category="Interior Painting",
    city="Palo Alto",
    customer_first_name="John",
    business_name="Tim's Painting Business",
    schedule="Tue, May 05",
    details=(Detail("Type of property", "Home"), Detail("Number of rooms", "4 rooms")),
)


def test_all_variables_render() -> None:
    text = render(
        "Hi {{ customer_first_name }}! {{ business_name }} here about your {{ category|lower }} "
        "job in {{ city }} ({{ schedule }}).\n"
        "{% for d in details %}- {{ d.question }}: {{ d.answer }}\n{% endfor %}",
        variables_for(LEAD),
    )
    assert text == (
        "Hi John! Tim's Painting Business here about your interior painting job in Palo Alto "
        "(Tue, May 05).\n- Type of property: Home\n- Number of rooms: 4 rooms"
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Hi {{ name", "syntax error"),
        ("{{ customer_email }}", "unknown variable 'customer_email'"),
        ("{{ category.__class__ }}", "attribute '__class__'"),
        ("{{ category.upper() }}", "call"),
        ("{% set x = 1 %}", "assign"),
        ("{% include 'x' %}", "include"),
        ("{% macro m() %}{% endmacro %}", "macro"),
        ("{{ category|center(99999999) }}", "filter 'center'"),
        ("{{ 9 ** 9 }}", "not allowed"),
        ("{% for a in details %}{% for b in details %}{% endfor %}{% endfor %}", "loops"),
        ("x" * 2001, "at most"),
    ],
)
def test_validation_rejects_with_a_reason(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        check_template(source)


def test_the_sandbox_blocks_internals_even_without_validation() -> None:
    for source in (
        "{{ category.__class__.__mro__[1].__subclasses__() }}",
        "{{ details.__class__.__base__ }}",
    ):
        with pytest.raises(SecurityError):
            ENVIRONMENT.from_string(source).render(variables_for(LEAD))
    with pytest.raises(SecurityError):
        ENVIRONMENT.from_string('{{ "x" * 100000 }}').render()
    with pytest.raises(SecurityError):
        ENVIRONMENT.from_string('{{ "%s" % category }}').render(category="a")
    assert render("{{ category.__class__ }}", variables_for(LEAD)) is None


def test_errors_and_blank_results_give_none() -> None:
    assert render("{{ 1 / 0 }}", {}) is None
    assert render("   {% if false %}x{% endif %}  ", variables_for(LEAD)) is None
    assert render("{{ missing }}", {}) is None


def test_default_reply_is_safe_with_or_without_data() -> None:
    assert default_reply(LEAD) == (
        "Hi John, thanks for reaching out to Tim's Painting Business about your Interior "
        "Painting request! We have your request and will get back to you shortly."
    )
    assert default_reply(LeadInput(lead_id="2")).startswith("Hi there, thanks for reaching out")


words = st.sampled_from(
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "for", "in", "endfor", "if", "endif", "else",
        "customer_first_name", "category", "business_name", "city", "schedule", "details",
        "d", "d.question", "|", "upper", "join", "default", "(", ")", "'x'", "*", "%", "~",
        "+", "9", "99999", "__class__", ".", "[0]", "loop.index", " ", "\n", "Hi",
    ]
)  # fmt: skip
template_sources = st.lists(words, max_size=25).map("".join) | st.text(max_size=60)
texts = st.text(max_size=40)
variable_values = st.fixed_dictionaries(
    {
        "customer_first_name": texts,
        "category": texts,
        "business_name": texts,
        "city": texts,
        "schedule": texts,
        "details": st.lists(
            st.fixed_dictionaries({"question": texts, "answer": texts}), max_size=5
        ),
    }
)


@settings(max_examples=400, deadline=None)
@given(source=template_sources, variables=variable_values)
def test_any_template_renders_or_is_rejected_at_validation(
    source: str, variables: dict[str, object]
) -> None:
    try:
        check_template(source)
    except TemplateError:
        return
    text = render(source, variables)
    assert text is None or (text.strip() and len(text) <= MAX_REPLY_CHARS)
