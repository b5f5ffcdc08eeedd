"""Server-side template injection: every shape fails, specifically, and leaks nothing.

Each case states the layer that stops it: ``None`` for the static policy (the
template never compiles), or the exception class the runtime raised. Every render
runs under the sandbox's own limits, so no case can hang: the test also checks the
wall time.
"""

from __future__ import annotations

import time

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from dispatch.creatives import sandbox
from dispatch.creatives.context import email_context, letter_context
from dispatch.creatives.sandbox import (
    LimitExceeded,
    Limits,
    TemplateRejected,
    check_syntax,
    opaque_to_personal_fields,
    render,
)

SECRET_NAME = "Salainen-Nimi"
SECRET_STORE = "Salainen Kauppa"
TEXTS = {"greeting": "Hei", "headline": "Kevät"}
# Things that must never appear in an error: member data, and the innards an attack
# is after.
LEAKS = (SECRET_NAME, SECRET_STORE, "<function", "<built-in", "<module", "/etc/", "sys.modules")


def email() -> dict[str, object]:
    return email_context(SECRET_NAME, "fi", TEXTS, SECRET_STORE)


def rejected(
    source: str, *, name: str = "email.html.j2", limits: Limits | None = None
) -> TemplateRejected:
    started = time.monotonic()
    with pytest.raises(TemplateRejected) as caught:
        render(source, email(), name=name, limits=limits or sandbox.LIMITS)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert not any(leak in message for leak in LEAKS), message
    return caught.value


# (template, reason fragment, runtime exception or None for the static policy)
SSTI: dict[str, tuple[str, str, type[Exception] | None]] = {
    "str class mro": ("{{ ''.__class__.__mro__ }}", "'__mro__' is not allowed", None),
    "subclasses": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed", None),
    "record class": ("{{ recipient.__class__ }}", "'__class__' is not allowed", None),
    "record internals": ("{{ recipient._values }}", "'_values' is not allowed", None),
    "record internals by item": ("{{ recipient['_values'] }}", "'_values' is not allowed", None),
    "cycler globals": ("{{ cycler.__init__.__globals__ }}", "not allowed", None),
    "lipsum globals": ("{{ lipsum.__globals__['os'] }}", "not allowed", None),
    "self init globals": ("{{ self.__init__.__globals__ }}", "not allowed", None),
    "self": ("{{ self }}", "unknown variable 'self'", None),
    "request": ("{{ request.environ }}", "unknown variable 'request'", None),
    "config": ("{{ config.items() }}", "not allowed", None),
    "config alone": ("{{ config }}", "unknown variable 'config'", None),
    "attr filter": ("{{ ''|attr('__class__') }}", "filter 'attr' is not allowed", None),
    "map attr": ("{{ [recipient]|map(attribute='__class__')|list }}", "is not allowed", None),
    "str format": ("{{ '{0.__class__}'.format(recipient) }}", "not allowed", None),
    "format attribute": ("{{ 'x'.format }}", "attribute 'format' is not allowed", None),
    "format_map": ("{{ '{x}'.format_map }}", "attribute 'format_map' is not allowed", None),
    "markup format via variable": (
        "{% set m = campaign.texts.greeting %}{{ m.format }}",
        "attribute 'format' is not allowed",
        None,
    ),
    "percent formatting": (
        "{{ '%s' % recipient.first_name }}",
        "string formatting with %",
        SecurityError,
    ),
    "percent mapping formatting": (
        "{{ '%(a)s' % {'a': 1} }}",
        "string formatting with %",
        SecurityError,
    ),
    "method handle": ("{{ ''.join }}", "unsafe", SecurityError),
    "method on variable": (
        "{% set s = campaign.texts.greeting %}{{ s.upper }}",
        "unsafe",
        SecurityError,
    ),
    "namespace": ("{% set ns = namespace() %}{% set ns.x = 1 %}", "not allowed", None),
    "joiner": ("{{ joiner }}", "unknown variable 'joiner'", None),
    "loop cycle": (
        "{% for x in [1] %}{{ loop.cycle }}{% endfor %}",
        "unknown field loop.cycle",
        None,
    ),
    "loop class": ("{% for x in [1] %}{{ loop.__class__ }}{% endfor %}", "'__class__'", None),
    "loop outside": ("{{ loop.index }}", "'loop' exists only inside a for loop", None),
    "list append call": ("{{ [].append(1) }}", "calls are not allowed", None),
    "list append handle": ("{% set l = [1] %}{{ l.append }}", "unsafe", SecurityError),
    "dict update handle": ("{% set d = {} %}{{ d.update }}", "unsafe", SecurityError),
    "huge range": ("{{ range(10**9) }}", "not allowed", None),
    "huge range alone": ("{{ range(1000000000)|length }}", "calls are not allowed", None),
    "huge string": ("{{ 'a' * 1000000000 }}", "a value would exceed", LimitExceeded),
    "huge list": ("{{ ([1] * 1000000000)|length }}", "a value would exceed", LimitExceeded),
    "center": ("{{ 'x'|center(1000000000) }}", "filter 'center' is not allowed", None),
    "tower exponent": ("{{ 10**10**10 }}", "** operator is not allowed", None),
    "big multiplication": (
        "{% set n = 340282366920938463463374607431768211456 %}{{ n * n }}",
        "number would exceed",
        LimitExceeded,
    ),
    "recursive macro": (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "macros are not allowed",
        None,
    ),
    "recursive loop": (
        "{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}",
        "not allowed",
        None,
    ),
    "include": ("{% include 'letter.html.j2' %}", "{% include %} is not allowed", None),
    "include absolute": ("{% include '/etc/passwd' %}", "{% include %} is not allowed", None),
    "import": ("{% import 'x' as y %}", "{% import %} is not allowed", None),
    "from import absolute": ("{% from '/etc/passwd' import x %}", "is not allowed", None),
    "extends": ("{% extends 'base.html' %}", "{% extends %} is not allowed", None),
    "extends absolute": ("{% extends '/etc/passwd' %}", "{% extends %} is not allowed", None),
    "varargs": ("{{ varargs }}", "unknown variable 'varargs'", None),
    "kwargs": ("{{ kwargs }}", "unknown variable 'kwargs'", None),
    "caller": ("{{ caller }}", "unknown variable 'caller'", None),
    "set shadows recipient": ("{% set recipient = 1 %}", "cannot assign to 'recipient'", None),
    "set aliases recipient": ("{% set x = recipient %}{{ x.email }}", "cannot be used whole", None),
    "set aliases texts": (
        "{% set t = campaign.texts %}",
        "campaign.texts cannot be used whole",
        None,
    ),
    "set block": ("{% set x %}{{ 1 }}{% endset %}", "{% set %}...{% endset %} blocks", None),
    "unknown field": ("{{ recipient.email }}", "unknown field recipient.email", None),
    "dynamic subscript": ("{{ recipient[campaign.language] }}", "subscripts must be literal", None),
    "autoescape off": (
        "{% autoescape false %}{{ recipient.first_name }}{% endautoescape %}",
        "{% autoescape %} is not allowed",
        None,
    ),
    "safe filter": ("{{ recipient.first_name|safe }}", "filter 'safe' is not allowed", None),
    "filter block": ("{% filter upper %}x{% endfilter %}", "{% filter %} blocks", None),
    "with block": ("{% with a = 1 %}{{ a }}{% endwith %}", "{% with %} is not allowed", None),
    "do statement": ("{% do [].append(1) %}", "syntax error", None),
    "join attribute": (
        "{{ [recipient]|join(attribute='__class__') }}",
        "has no argument 'attribute'",
        None,
    ),
    "missing text at runtime": ("{{ campaign.texts.nope }}", "no field 'nope'", UndefinedError),
}


@pytest.mark.parametrize(("source", "reason", "layer"), SSTI.values(), ids=SSTI.keys())
def test_injection_is_rejected(source: str, reason: str, layer: type[Exception] | None) -> None:
    error = rejected(source)
    assert reason in error.reason
    assert error.name == "email.html.j2"
    assert error.line == 1
    if layer is None:
        assert error.__cause__ is None
        assert check_syntax(source, "email.html.j2")  # the static check finds it too
    else:
        assert isinstance(error.__cause__, layer)


# --- exhaustion: each limit stops the render in bounded time ---------------------------

EXHAUSTION = {
    "nested loops": (
        "{% for a in 'x' * 200000 %}{% for b in 'y' * 200000 %}{% endfor %}{% endfor %}",
        "more than 10000 loop iterations",
    ),
    "output size": ("{% for i in 'x' * 5000 %}{{ 'y' * 100 }}{% endfor %}", "output longer than"),
    "total work": (
        "{% for i in 'x' * 9000 %}{% set s = 'y' * 200000 %}{% endfor %}",
        "characters of work",
    ),
    "doubling by concatenation": (
        "{% set a = 'x' * 200000 %}{% set b = a ~ a %}",
        "a value would exceed",
    ),
    "doubling by plus": ("{% set a = 'x' * 200000 %}{{ a + a }}", "a value would exceed"),
    "replace amplification": (
        "{% set s = 'x' * 1000 %}{{ s|replace('x', s) }}",
        "a value would exceed",
    ),
    "join amplification": (
        "{% set s = 'x' * 100000 %}{{ [s, s, s]|join(s) }}",
        "a value would exceed",
    ),
}


@pytest.mark.parametrize(("source", "reason"), EXHAUSTION.values(), ids=EXHAUSTION.keys())
def test_exhaustion_is_stopped_by_a_limit(source: str, reason: str) -> None:
    error = rejected(source)
    assert reason in error.reason
    assert isinstance(error.__cause__, LimitExceeded)


def test_deadline_stops_a_render() -> None:
    error = rejected("{% for i in 'x' * 100 %}{{ i }}{% endfor %}", limits=Limits(seconds=0))
    assert "time limit of 0 s exceeded" in error.reason


def test_deep_nesting_is_rejected_not_crashing() -> None:
    assert "too complex" in rejected("{% for a in [1] %}" * 30 + "{% endfor %}" * 30).reason
    assert "nested too deeply" in rejected("{% if true %}" * 500 + "{% endif %}" * 500).reason
    assert "nested too deeply" in rejected("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}").reason


def test_template_longer_than_the_limit_is_rejected() -> None:
    assert "longer than" in rejected("x" * (256 * 1024 + 1)).reason


def test_environment_is_unusable_outside_render() -> None:
    template = sandbox._compile("{% for x in [1] %}{{ x }}{% endfor %}", "x.html", sandbox.LIMITS)
    with pytest.raises(SecurityError, match=r"only through sandbox\.render"):
        template.render(email())


def test_context_with_extra_names_is_refused() -> None:
    with pytest.raises(TypeError, match="a creative context holds only"):
        render("x", {**email(), "member": object()}, name="email.html.j2")


def test_runtime_error_line_points_into_the_template() -> None:
    error = rejected("line one\nline two\n{{ campaign.texts.greeting + 1 }}")
    assert (error.line, str(error).split(": ")[0]) == (3, "email.html.j2:3")


def test_error_messages_redact_member_data() -> None:
    # A dict keyed by the member's name, looked up by a literal: the lookup error names
    # the key from the template, and the member's own name is redacted everywhere.
    error = rejected(f"{{{{ {{'{SECRET_NAME}': 1}}.other }}}}{{{{ 1 // 0 }}}}")
    assert SECRET_NAME not in str(error)


# --- what is allowed still works ------------------------------------------------------


def test_allowed_template_renders() -> None:
    source = (
        "{% set who = recipient.first_name|default('asiakas', true) %}"
        "{{ campaign.texts.greeting|upper }} {{ who }}"
        "{% for w in ['a', 'b'] %}{{ loop.index }}{{ w }}{% if not loop.last %},{% endif %}{% endfor %}"  # noqa: E501
        "{{ ' ' ~ '-' * 3 }}{{ campaign.texts.headline|length }}"
        "{% if recipient.language == 'fi' %} fi{% endif %}"
    )
    assert render(source, email(), name="email.html.j2") == f"HEI {SECRET_NAME}1a,2b ---5 fi"


def test_only_the_documented_context_exists() -> None:
    context = email()
    assert set(context) == {"recipient", "campaign"}
    out = render(
        "{{ recipient.first_name }}|{{ recipient.language }}|{{ recipient.home_store }}|"
        "{{ campaign.language }}|{{ campaign.texts.headline }}",
        context,
        name="email.txt.j2",
    )
    assert out == f"{SECRET_NAME}|fi|{SECRET_STORE}|fi|Kevät"


# --- second-order injection: member data is data ----------------------------------------

HOSTILE_NAME = "{{ 7*7 }}{% if true %}X{% endif %}<script>alert(1)</script> & Co"
HOSTILE_STORE = "Prisma <b>{{ config }}</b> & {% include '/etc/passwd' %}"


def test_hostile_member_data_is_escaped_in_html() -> None:
    context = email_context(HOSTILE_NAME, "sv", TEXTS, HOSTILE_STORE)
    out = render(
        "<p>{{ recipient.first_name }} @ {{ recipient.home_store }}</p>",
        context,
        name="email.html.j2",
    )
    assert out == (
        "<p>{{ 7*7 }}{% if true %}X{% endif %}&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"
        " @ Prisma &lt;b&gt;{{ config }}&lt;/b&gt; &amp; {% include &#39;/etc/passwd&#39; %}</p>"
    )
    assert "49" not in out


def test_hostile_member_data_is_literal_in_text() -> None:
    context = email_context(HOSTILE_NAME, "fi", TEXTS, HOSTILE_STORE)
    out = render(
        "{{ recipient.first_name }} / {{ recipient.home_store }}", context, name="email.txt.j2"
    )
    assert out == f"{HOSTILE_NAME} / {HOSTILE_STORE}"


def test_hostile_data_in_filters_and_attributes_stays_escaped() -> None:
    context = email_context(HOSTILE_NAME, "fi", TEXTS, HOSTILE_STORE)
    out = render(
        '<img alt="{{ recipient.first_name|upper }}" src="assets/x.png">'
        "{{ [recipient.first_name, recipient.home_store]|join(' & ') }}"
        "{{ recipient.home_store|replace('Prisma', '<i>') }}",
        context,
        name="email.html.j2",
    )
    assert "<script" not in out and "<SCRIPT" not in out and "<i>" not in out
    assert 'alt="{{ 7*7 }}{% IF TRUE %}X{% ENDIF %}&lt;SCRIPT&gt;' in out


def test_letter_personal_fields_are_placeholders_never_member_text() -> None:
    context = letter_context("fi", TEXTS, HOSTILE_STORE)
    out = render(
        "<p>Hei {{ recipient.first_name }}, {{ recipient.home_store }}</p>",
        context,
        name="letter.html.j2",
    )
    # The store's text never reaches the template: it is stamped into the PDF later.
    assert out == (
        '<p>Hei <span class="pf" data-field="first_name"></span>, '
        '<span class="pf" data-field="home_store"></span></p>'
    )


def test_letter_without_home_store_tests_false() -> None:
    context = letter_context("fi", TEXTS, None)
    out = render(
        "{% if recipient.home_store %}S{% else %}none{% endif %}", context, name="letter.html.j2"
    )
    assert out == "none"


def test_hostile_static_texts_are_data_too() -> None:
    context = email_context("Aino", "fi", {"greeting": "{{ 7*7 }}<b>"}, "")
    assert (
        render("{{ campaign.texts.greeting }}", context, name="email.html.j2")
        == "{{ 7*7 }}&lt;b&gt;"
    )


@pytest.mark.parametrize(
    ("source", "opaque"),
    [
        ("<p>{{ recipient.first_name }}, {{ recipient.home_store }}</p>", True),
        ("<p>{{ recipient.first_name|default('friend', true) }}</p>", True),
        ("{% if recipient.home_store %}{{ recipient.home_store }}{% endif %}", True),
        ("{% if not recipient.first_name or recipient['home_store'] %}x{% endif %}", True),
        ("{{ 'a' if recipient.first_name and campaign.language else 'b' }}", True),
        ("{{ recipient.language|upper }} {{ campaign.texts.x|upper }}", True),
        ("{{ recipient.first_name|upper }}", False),
        ("{{ recipient.first_name|default(recipient.home_store) }}", False),
        ("{{ recipient.first_name or 'friend' }}", False),
        ("{{ recipient.first_name ~ '!' }}", False),
        ("{{ recipient.first_name[0] }}", False),
        ("{% if recipient.first_name == 'Matti' %}x{% endif %}", False),
        ("{% if recipient.home_store is string %}x{% endif %}", False),
        ("{% set n = recipient.first_name %}{{ n }}", False),
        ("{% for c in recipient.home_store %}{{ c }}{% endfor %}", False),
        ("{{ recipient.first_name if recipient.first_name else 'x' }}", False),
        ("{{ recipient.first_name", False),  # refused templates are never opaque
    ],
)
def test_templates_opaque_to_personal_fields_only_print_or_test_them(
    source: str, opaque: bool
) -> None:
    assert opaque_to_personal_fields(source, "email.html.j2") is opaque
