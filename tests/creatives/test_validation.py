"""Validation: every problem of a hostile bundle at once, each naming file and line."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from dispatch.creatives.bundle import load_bundle
from dispatch.creatives.problems import BundleRejected, Problem
from dispatch.creatives.validation import validate_files
from tests.creatives.builders import CSS, MANIFEST, png, valid_files, write_dir

DEMOS = Path(__file__).resolve().parents[2] / "templates" / "creatives"


def problems_of(**changes: bytes | None) -> list[Problem]:
    """Validate the valid bundle with some files replaced (None removes a file)."""
    files = valid_files()
    for key, value in changes.items():
        name = key.replace("__", "/").replace("_html", ".html").replace("_txt", ".txt")
        if value is None:
            files.pop(name, None)
        else:
            files[name] = value
    return validate_files(files)[1]


def check(files: dict[str, bytes]) -> str:
    return "\n".join(str(p) for p in validate_files(files)[1])


def with_files(**named: bytes) -> dict[str, bytes]:
    return {**valid_files(), **{k: v for k, v in named.items()}}


def test_valid_bundle_has_no_problems() -> None:
    manifest, problems = validate_files(valid_files())
    assert problems == []
    assert manifest is not None
    assert manifest.texts("sv")["headline"] == "Våren är här"
    assert manifest.subject("fi") == "Kevään tarjous"


@pytest.mark.parametrize("name", ["nordic-air-spring", "coop-bicycles"])
def test_demo_bundles_validate_cleanly(name: str) -> None:
    bundle = load_bundle(DEMOS / name)
    assert bundle.manifest.name == name


# --- creative.yaml -------------------------------------------------------------------

MANIFEST_CASES = {
    "no sv": (MANIFEST.split(b"sv:")[0], "language 'sv' is missing"),
    "bad channel": (MANIFEST.replace(b"[post, email]", b"[post, fax]"), "unknown channel 'fax'"),
    "no channels": (MANIFEST.replace(b"channels: [post, email]\n", b""), "channels is missing"),
    "email without subject": (
        MANIFEST.replace("  subject: Vårens erbjudande\n".encode(), b""),
        "sv.subject is required for e-mail",
    ),
    "subject with line break": (
        MANIFEST.replace(
            "subject: Kevään tarjous".encode(), b'subject: "Hi\\nBcc: x@example.test"'
        ),
        "line break",
    ),
    "bad text key": (MANIFEST.replace(b"greeting: Hei", b"Greeting-1: Hei"), "bad key"),
    "texts differ": (
        MANIFEST.replace(b"greeting: Hei", b"hello: Hei"),
        "sv.texts.hello is missing",
    ),
    "unknown key": (MANIFEST + b"script: rm -rf /\n", "unknown key 'script'"),
    "bad name": (
        MANIFEST.replace(b"name: spring-offer", b"name: ../Spring"),
        "name: use lowercase",
    ),
    "alias": (
        MANIFEST.replace(b"greeting: Hei", b"greeting: &a Hei\n    other: *a"),
        "anchors and aliases are not allowed",
    ),
    "python tag": (
        MANIFEST.replace(b"greeting: Hei", b"greeting: !!python/object/apply:os.system [x]"),
        "must be text",
    ),
    "not yaml": (b"name: [unclosed\n", "not valid YAML"),
    "not a mapping": (b"- a\n- b\n", "must be a mapping"),
    "duplicate key": (MANIFEST + b"name: again\n", "duplicate key 'name'"),
    "not utf-8": (b"name: \xff\xfe\n", "not UTF-8"),
    "number as text": (MANIFEST.replace(b"greeting: Hei", b"greeting: 12"), "must be text"),
}


@pytest.mark.parametrize(("data", "reason"), MANIFEST_CASES.values(), ids=MANIFEST_CASES.keys())
def test_manifest_problems(data: bytes, reason: str) -> None:
    text = check(with_files(**{"creative.yaml": data}))
    assert "creative.yaml" in text
    assert reason in text


def test_manifest_problems_carry_line_numbers() -> None:
    data = MANIFEST.replace(b"[post, email]", b"[post, fax]")
    (problem,) = [p for p in validate_files(with_files(**{"creative.yaml": data}))[1]]
    assert (problem.file, problem.line) == ("creative.yaml", 2)


def test_missing_manifest() -> None:
    files = valid_files()
    del files["creative.yaml"]
    assert "creative.yaml: missing" in check(files)


def test_channel_needs_its_templates() -> None:
    files = valid_files()
    del files["email.txt.j2"]
    assert "email.txt.j2: missing: channel email needs it" in check(files)


def test_template_for_an_undeclared_channel_is_refused() -> None:
    files = with_files(**{"creative.yaml": MANIFEST.replace(b"[post, email]", b"[email]")})
    assert "letter.html.j2: present, but creative.yaml channels do not include post" in check(files)


# --- templates -----------------------------------------------------------------------


def test_template_problems_name_file_and_line() -> None:
    letter = b"<p>ok</p>\n<p>{{ recipient.email }}</p>\n{{ campaign.texts.nope }}\n{% if %}"
    problems = validate_files(with_files(**{"letter.html.j2": letter}))[1]
    assert [(p.file, p.line) for p in problems] == [("letter.html.j2", 4)]  # syntax first
    letter = b"<p>ok</p>\n<p>{{ recipient.email }}</p>\n{{ campaign.texts.nope }}\n"
    found = {
        (p.file, p.line, p.reason.split(":")[0])
        for p in validate_files(with_files(**{"letter.html.j2": letter}))[1]
    }
    assert ("letter.html.j2", 2, "unknown field recipient.email") in found
    assert ("letter.html.j2", 3, "campaign.texts.nope is not in creative.yaml texts") in found


def test_letter_first_name_must_stand_alone() -> None:
    letter = b"<p>{{ recipient.first_name|upper }}</p>"
    assert "placeholder" in check(with_files(**{"letter.html.j2": letter}))


def test_trial_render_failure_is_reported_per_language() -> None:
    text = check(with_files(**{"email.txt.j2": b"{{ 1 // 0 }}"}))
    assert "email.txt.j2:1: [fi] ZeroDivisionError" in text
    assert "email.txt.j2:1: [sv] ZeroDivisionError" in text


def test_template_not_utf8() -> None:
    assert "letter.html.j2: not UTF-8" in check(with_files(**{"letter.html.j2": b"\xff<p>"}))


# --- references, markup, CSS, SVG and assets -----------------------------------------

BIG_DATA_URI = "data:image/png;base64," + base64.b64encode(png(60, 60) + b"\0" * 3000).decode()
SMALL_DATA_URI = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()

SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'


def svg(body: str) -> bytes:
    return f"{SVG_HEAD}{body}</svg>".encode()


def _giant_png_header() -> bytes:
    """A PNG that claims 100000x100000 pixels: a decompression bomb by its header."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 100)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    )  # fmt: skip


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (10, 10)).save(buf, "GIF")
    return buf.getvalue()


HTML = "letter.html.j2"
EMAIL = "email.html.j2"
STYLE = "assets/style.css"

# (file, content, expected reason fragment)
VECTORS: dict[str, tuple[str, bytes, str]] = {
    "script element": (HTML, b"<script>alert(1)</script>", "scripts are not allowed"),
    "img http": (HTML, b'<img src="http://evil.example/p.png">', "(http:)"),
    "img https": (EMAIL, b'<img src="https://evil.example/p.png">', "(https:)"),
    "img protocol-relative": (HTML, b'<img src="//evil.example/p.png">', "protocol-relative"),
    "img file": (HTML, b'<img src="file:///etc/passwd">', "(file:)"),
    "img ftp": (HTML, b'<img src="ftp://evil.example/p.png">', "(ftp:)"),
    "img javascript": (HTML, b'<img src="javascript:alert(1)">', "(javascript:)"),
    "img absolute": (HTML, b'<img src="/etc/passwd">', "absolute path"),
    "img dot-dot": (HTML, b'<img src="../secret.png">', "leaves its folder"),
    "img dot-dot in assets": (HTML, b'<img src="assets/../creative.yaml">', "leaves its folder"),
    "img missing asset": (HTML, b'<img src="assets/nope.png">', "no such file"),
    "img not an image": (HTML, b'<img src="assets/style.css">', "is not a image"),
    "img uppercase scheme with spaces": (HTML, b'<img src="  HTTP://EVIL/x.png">', "(http:)"),
    "img entity-encoded scheme": (HTML, b'<img src="&#104;ttp://evil/x.png">', "(http:)"),
    "img percent-encoded path": (HTML, b'<img src="assets%2F..%2Fx.png">', "%-escapes"),
    "img backslash": (HTML, b'<img src="assets\\logo.png">', "backslash"),
    "img query": (HTML, b'<img src="assets/logo.png?u=1">', "queries"),
    "srcset remote": (
        HTML,
        b'<img src="assets/logo.png" srcset="assets/logo.png 1x, http://e/x.png 2x">',
        "(http:)",
    ),
    "background attribute": (HTML, b'<table background="http://evil/x.png"></table>', "(http:)"),
    "style attribute url": (
        HTML,
        b'<div style="background:url(http://evil/x.png)"></div>',
        "(http:)",
    ),
    "style element import": (
        HTML,
        b"<style>@import url(http://evil/x.css);</style>",
        "@import is not allowed",
    ),
    "link remote": (HTML, b'<link rel="stylesheet" href="http://evil/x.css">', "(http:)"),
    "link preload": (
        HTML,
        b'<link rel="preload" href="assets/style.css">',
        'only as rel="stylesheet"',
    ),
    "link to non-css": (
        HTML,
        b'<link rel="stylesheet" href="assets/logo.png">',
        "is not a stylesheet",
    ),
    "anchor remote": (EMAIL, b'<a href="https://evil.example/">x</a>', "(https:)"),
    "anchor to asset": (EMAIL, b'<a href="assets/logo.png">x</a>', "only a #fragment"),
    "event handler": (HTML, b'<img src="assets/logo.png" onerror="alert(1)">', "event handler"),
    "iframe": (HTML, b'<iframe src="assets/logo.png"></iframe>', "frames are not allowed"),
    "object": (HTML, b'<object data="x.swf"></object>', "embedded objects"),
    "embed": (HTML, b'<embed src="x.swf">', "embedded objects"),
    "form": (
        EMAIL,
        b'<form action="http://evil/"><input name="pw"></form>',
        "forms are not allowed",
    ),
    "base": (HTML, b'<base href="http://evil/">', "<base> is not allowed"),
    "meta refresh": (
        EMAIL,
        b'<meta http-equiv="refresh" content="0;url=http://evil/">',
        "<meta> is not allowed",
    ),
    "tracking pixel attributes": (
        EMAIL,
        b'<img src="assets/logo.png" width="1" height="1">',
        "2 pixels or less",
    ),
    "data uri too big": (HTML, f'<img src="{BIG_DATA_URI}">'.encode(), "longer than 2048"),
    "data uri html": (HTML, b'<img src="data:text/html;base64,PHNjcmlwdD4=">', "PNG, JPEG or GIF"),
    "data uri lies about type": (
        HTML,
        b'<img src="data:image/png;base64,R0lGODlh">',
        "not the image type",
    ),
    "conditional comment": (
        EMAIL,
        b'<!--[if mso]><v:image src="http://evil/x"/><![endif]-->',
        "conditional comments",
    ),
    "inline svg image": (HTML, b'<svg><image href="http://evil/x.png"/></svg>', "SVG <image>"),
    "inline svg use remote": (
        HTML,
        b'<svg><use xlink:href="http://evil/s.svg#a"/></svg>',
        "(http:)",
    ),
    "inline svg foreignObject": (
        HTML,
        b"<svg><foreignObject></foreignObject></svg>",
        "foreignObject",
    ),
    "document wrapper": (HTML, b"<html><body>x</body></html>", "write only the body"),
    "unknown element": (HTML, b"<marquee>x</marquee>", "<marquee> is not allowed"),
    "reserved placeholder": (HTML, b'<span class="pf" data-field="street"></span>', "reserved"),
    # places where a browser sees a tag that a lenient parser would not
    "svg style breakout": (
        HTML,
        b"<svg><style><img src=http://evil/x.png></style></svg>",
        "'<' is not allowed inside <style>",
    ),
    "comment breakout": (HTML, b"<!-- x --!><img src=http://evil/x.png> -->", "markup in comments"),
    "unterminated tag": (HTML, b'<p>ok</p><img src="http://evil/x.png', "ambiguous markup"),
    "lt in attribute": (HTML, b'<p title="<img src=http://evil/x.png>">x</p>', "ambiguous markup"),
    # template code may not build markup
    "code in src": (
        HTML,
        b'<img src="{{ campaign.texts.headline }}">',
        "template code is not allowed in 'src'",
    ),
    "code as tag name": (HTML, b"<{{ campaign.texts.headline }} src=x>", "cannot build a tag"),
    "code between attributes": (
        HTML,
        b'<p {{ campaign.texts.headline }}="x">',
        "only inside quoted",
    ),
    "code unquoted value": (HTML, b"<p title={{ campaign.texts.headline }}>x</p>", "needs quotes"),
    "code in style element": (
        HTML,
        b"<style>{{ campaign.texts.headline }}</style>",
        "not allowed in <style>",
    ),
    "code in style attribute": (
        HTML,
        b'<p style="color: {{ campaign.texts.headline }}">x</p>',
        "not allowed in 'style'",
    ),
    "block tag in a tag": (
        HTML,
        b'<img {% if true %}src{% endif %}="http://evil/x.png">',
        "only inside quoted",
    ),
    # CSS files
    "css import": (STYLE, b'@import "other.css";', "@import is not allowed"),
    "css remote url": (STYLE, b"body { background: url(http://evil/x.png) }", "(http:)"),
    "css font-face remote": (
        STYLE,
        b"@font-face { font-family: x; src: url(https://evil/f.woff2) }",
        "(https:)",
    ),
    "css local font": (STYLE, b"@font-face { font-family: x; src: local(Arial) }", "local() fonts"),
    "css behavior": (STYLE, b".a { behavior: url(x.htc) }", "'behavior' is not allowed"),
    "css expression": (STYLE, b".a { width: expression(alert(1)) }", "expression() is not allowed"),
    "css escaped url": (STYLE, b".a { background: u\\72l(//evil/x.png) }", "protocol-relative"),
    "css dot-dot": (STYLE, b".a { background: url(../creative.yaml) }", "leaves its folder"),
    "css image-set": (
        STYLE,
        b'.a { background-image: image-set("http://evil/a.png" 1x) }',
        "(http:)",
    ),
    "css nested import": (STYLE, b'@media print { @import "x.css"; }', "@import is not allowed"),
    "css namespace": (STYLE, b"@namespace url(http://www.w3.org/1999/xhtml);", "@namespace"),
    "css not utf-8": (STYLE, b"a { content: '\xff' }", "not UTF-8"),
    # SVG assets
    "svg script": ("assets/a.svg", svg("<script>alert(1)</script>"), "<script> is not allowed"),
    "svg onload": ("assets/a.svg", svg('<rect onload="alert(1)"/>'), "event handler"),
    "svg foreignObject": (
        "assets/a.svg",
        svg("<foreignObject/>"),
        "<foreignObject> is not allowed",
    ),
    "svg remote href": ("assets/a.svg", svg('<use href="https://evil/x.svg#a"/>'), "(https:)"),
    "svg xlink href to asset": (
        "assets/a.svg",
        svg('<use xlink:href="logo.png"/>'),
        "only a #fragment",
    ),
    "svg image": (
        "assets/a.svg",
        svg('<image href="data:image/png;base64,iVBORw0KGgo="/>'),
        "<image> is not allowed",
    ),
    "svg animation sets href": (
        "assets/a.svg",
        svg('<set attributeName="href" to="javascript:x"/>'),
        "<set> is not allowed",
    ),
    "svg billion laughs": (
        "assets/a.svg",
        b'<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>' + svg("&b;"),
        "document type",
    ),
    "svg external entity": (
        "assets/a.svg",
        b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + svg("&x;"),
        "document type",
    ),
    "svg style remote": (
        "assets/a.svg",
        svg("<style>rect { fill: url(http://evil/x) }</style>"),
        "(http:)",
    ),
    "svg filter attribute remote": (
        "assets/a.svg",
        svg('<rect filter="url(http://evil/f)"/>'),
        "(http:)",
    ),
    "svg xhtml inside": (
        "assets/a.svg",
        svg('<div xmlns="http://www.w3.org/1999/xhtml"/>'),
        "namespace",
    ),
    "svg not svg": ("assets/a.svg", b"<html/>", "root element"),
    # asset types and images
    "script named png": ("assets/logo.png", b"<script>alert(1)</script>", "not a PNG"),
    "gif named png": ("assets/logo.png", _gif(), "not a PNG"),
    "javascript file": ("assets/app.js", b"alert(1)", "file type not allowed"),
    "html file": ("assets/page.html", b"<p>x</p>", "file type not allowed"),
    "tracking pixel image": ("assets/logo.png", png(1, 1), "tiny images"),
    "image too wide": ("assets/logo.png", png(5000, 10), "larger than 4000x4000"),
    "decompression bomb header": ("assets/logo.png", _giant_png_header(), "large"),
    "font with wrong signature": ("assets/f.woff2", b"<script>", "not a WOFF2"),
    "empty asset": ("assets/empty.css", b"", "empty file"),
}


@pytest.fixture(params=[False, True], ids=["strict-pillow", "lenient-pillow"])
def pillow_truncation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """WeasyPrint makes Pillow accept truncated images process-wide; check both ways."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", request.param)


@pytest.mark.parametrize(
    "content",
    [png(100, 100)[:60], png(100, 100)[:-20], _jpeg()[:-50], _gif()[:-1]],
    ids=["png-header-only", "png-no-end", "jpeg", "gif"],
)
@pytest.mark.usefixtures("pillow_truncation")
def test_truncated_images_are_refused(content: bytes) -> None:
    ext = {b"\x89P": "png", b"\xff\xd8": "jpg", b"GI": "gif"}[content[:2]]
    files = {**valid_files(), f"assets/cut.{ext}": content}
    found = [p for p in validate_files(files)[1] if p.file == f"assets/cut.{ext}"]
    assert found


@pytest.mark.parametrize(("file", "content", "reason"), VECTORS.values(), ids=VECTORS.keys())
def test_reference_and_content_vectors(file: str, content: bytes, reason: str) -> None:
    files = valid_files()
    if file in (HTML, EMAIL):
        content = b"<p>{{ recipient.first_name }}</p>\n" + content
    files[file] = content
    found = [p for p in validate_files(files)[1] if p.file == file]
    assert found, f"no problem found for {file}"
    assert any(reason in p.reason for p in found), found


@pytest.mark.parametrize(
    "html",
    [
        b'<img src="assets/logo.png" alt="{{ campaign.texts.headline }}">',
        f'<img src="{SMALL_DATA_URI}">'.encode(),
        b'<a href="#top">top</a><p id="top" class="{{ campaign.language }}">x</p>',
        b'<div style="color: #333; background: url(assets/logo.png)">x</div>',
        b"<style>.x { background: url(assets/logo.png) }</style>",
        b"<svg viewBox='0 0 1 1'><rect fill='url(#g)'/></svg>",
        b"{% for w in ['a', 'b'] %}<b>{{ w }}</b>{% endfor %}",
        b"<!-- a plain comment -->",
    ],
)
def test_acceptable_markup_passes(html: bytes) -> None:
    files = with_files(**{"letter.html.j2": html})
    assert check(files) == ""


def test_css_and_svg_assets_that_are_fine_pass() -> None:
    files = with_files(
        **{
            "assets/wheel.svg": svg('<defs><linearGradient id="g"/></defs><rect fill="url(#g)"/>'),
            "assets/style.css": CSS
            + b'@font-face { font-family: x; src: url(f.woff2) format("woff2") }',
            "assets/f.woff2": b"wOF2" + b"\0" * 40,
        }
    )
    assert check(files) == ""


def test_every_problem_is_reported_at_once_and_nothing_is_stored(tmp_path: Path) -> None:
    files = valid_files()
    files["creative.yaml"] = MANIFEST.replace(b"[post, email]", b"[post, email, fax]")
    files["letter.html.j2"] = (
        b"<p>{{ recipient.email }}</p>\n<img src='http://evil/p.png'>\n<script>x</script>\n"
    )
    files["email.txt.j2"] = b"{{ ''.__class__ }}"
    files["assets/logo.png"] = png(1, 1)
    files["assets/style.css"] = b"@import 'x.css';"
    files["assets/evil.js"] = b"alert(1)"
    root = write_dir(tmp_path / "bundle", files)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(BundleRejected) as caught:
        load_bundle(root)
    found = {(p.file, p.line) for p in caught.value.found}
    assert {
        ("creative.yaml", 2),
        ("letter.html.j2", 1),
        ("letter.html.j2", 2),
        ("letter.html.j2", 3),
        ("email.txt.j2", 1),
        ("assets/logo.png", None),
        ("assets/style.css", 1),
        ("assets/evil.js", None),
    } <= found
    assert sorted(tmp_path.rglob("*")) == before
    assert str(caught.value) == f"bundle rejected: {len(caught.value.found)} problems"


def _body(text: str) -> str:
    """A demo file without its leading comment (the docs show their own)."""
    for opening, closing in (("{#", "#}\n"), ("/*", "*/\n")):
        if text.startswith(opening):
            text = text[text.index(closing) + len(closing) :]
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# "))


@pytest.mark.parametrize(
    "name",
    ["creative.yaml", "letter.html.j2", "email.html.j2", "email.txt.j2", "assets/nordic-air.css"],
)
def test_docs_show_the_demo_bundle_as_it_is(name: str) -> None:
    docs = (DEMOS.parents[1] / "docs" / "creatives.md").read_text(encoding="utf-8")
    assert _body((DEMOS / "nordic-air-spring" / name).read_text(encoding="utf-8")) in docs
