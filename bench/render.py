"""Rendering benchmark: the batch letter engine against one WeasyPrint run per letter.

    .venv/bin/python bench/render.py --sizes 2000,20000,100000 --repeat 5

Measures, each ``--repeat`` times and quoted as median (min-max):

* letters/s of :func:`dispatch.rendering.write_batch` for batches of each ``--sizes``
  one-page letters in random order, with a first-name greeting, two variants (fi, sv),
  synthetic names including long and accented ones, each letter with its own
  preference-centre code and QR code (target: >= 5,000 letters/s); both without the
  variant layout (the steady rate) and with it (the layout, about 1 s for two
  variants, is a fixed cost per batch job); *warm* in this process after a first
  batch, and *cold* in a fresh process (imports, fonts, QR tables, layout, batch);
* the same batch without codes, for what the code and QR code cost per letter;
* three naive baselines, one WeasyPrint document per letter with the name in the HTML,
  on ``--naive-sample`` letters: as first written (a new font configuration and URL
  fetcher per letter, fonts subset), the careful user's (font configuration and
  fetcher reused), and the same with WeasyPrint's ``full_fonts=True`` (no subsetting).
  The ratio batch / naive is given per baseline as the median of paired runs (each
  repeat times the batch and the naive letters back to back), the headline one against
  the fastest baseline;
* peak memory for several batch sizes, each in a fresh subprocess (tracemalloc peak
  and the process's maximum RSS), streaming (presorted, generated lazily) and sorting;
* e-mails rendered to bytes per second (target: >= 5,000/s), and a campaign's
  e-mails through the demo creative's own templates (``CampaignContent.email``): from
  variants rendered once, against the sandbox rendering each member's (paired runs).

The figures replace the bench/render.py section of bench/RESULTS.md (bench/_results.py).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import _results

from dispatch.campaigns.content import CampaignContent
from dispatch.creatives.bundle import load_bundle
from dispatch.register.tokens import letter_code
from dispatch.rendering import (
    DEMO_SENDER,
    EmailBuilder,
    Letter,
    Recipient,
    Variant,
    render_variant,
    write_batch,
)
from dispatch.rendering.fetcher import AssetFetcher
from dispatch.rendering.fonts import isolated_font_config
from dispatch.rendering.layout import SYSTEM_BASE, system_assets, system_env
from dispatch.rendering.postal import address_lines, presort_key
from dispatch.rendering.weasy import HTML

BODY = {
    "fi": """<h1>Hei <span class="pf" data-field="first_name"></span></h1>
<p>Kevät on pyöräilyn aikaa. Kanta-asiakkaana saat nyt kaikista pyöristä ja
varusteista 20 % alennuksen kaikissa myymälöissämme ja verkkokaupassa.</p>
<p>Tarjous on voimassa 30.4. asti. Tervetuloa!</p>""",
    "sv": """<h1>Hej <span class="pf" data-field="first_name"></span></h1>
<p>Våren är cykeltid. Som stamkund får du nu 20 % rabatt på alla cyklar och all
utrustning i alla våra butiker och i webbutiken.</p>
<p>Erbjudandet gäller till 30.4. Välkommen!</p>""",
}
EMAIL_HTML = """<html><head><style>h1 {{ color: #036 }}</style></head><body>
<h1>Hei {name}!</h1><img src="assets/logo.png" alt="Pyörä"><p>Kevät on pyöräilyn aikaa. Kanta-asiakkaana saat nyt kaikista
pyöristä ja varusteista 20 % alennuksen.</p>
<p><a href="https://partner.example/kevat">Katso tarjoukset</a></p></body></html>"""
EMAIL_TEXT = (
    "Hei {name}!\n\nKevät on pyöräilyn aikaa: -20 % pyöristä.\nhttps://partner.example/kevat\n"
)

LOGO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
FIRST = [
    "Maria", "Juha", "Anna-Liisa", "Åsa", "Väinö", "Maria-Kristiina", "Mikko", "Päivi",
    "Björn", "Žaneta", "Jörgen", "Eeva-Kaarina", "Öllegård", "Šárka", "Ville", "Aino",
]  # fmt: skip
LAST = [
    "Virtanen", "Korhonen", "Mäkinen", "Lindqvist", "Åkerström-Šimonović-Väänänen",
    "Nieminen", "Öhrnberg", "Häkkinen", "Söderström", "Heikkilä-Kärkkäinen", "Grönholm",
]  # fmt: skip
TOWNS = ["Helsinki", "Espoo", "Vaasa", "Maarianhamina", "Jakobstad", "Jyväskylä", "Åbo"]
STREETS = ["Mannerheimintie", "Kauppakatu", "Storgatan", "Hämeenkatu", "Åkervägen"]


def recipient(rnd: random.Random, postcode: str) -> Recipient:
    language = "sv" if rnd.random() < 0.3 else "fi"
    return Recipient(
        first_name=rnd.choice(FIRST),
        last_name=rnd.choice(LAST),
        address_extra="c/o Anna Virtanen" if rnd.random() < 0.05 else None,
        street=f"{rnd.choice(STREETS)} {rnd.randrange(1, 120)} {rnd.choice('ABC')} {rnd.randrange(1, 60)}",
        postcode=postcode,
        post_town=rnd.choice(TOWNS),
        language=language,
    )


def code(i: int, codes: bool) -> str | None:
    """Letter i's preference-centre code, as a campaign gives it (or none)."""
    return letter_code("bench-secret-0123456789abcdef", 1, i) if codes else None


def random_letters(n: int, seed: int = 1, *, codes: bool = True) -> list[Letter]:
    rnd = random.Random(seed)
    result = []
    for i in range(n):
        r = recipient(rnd, f"{rnd.randrange(100, 99999):05d}")
        result.append(Letter(r.language, r, {}, code(i, codes)))
    return result


def presorted_letters(n: int, seed: int = 1) -> Iterator[Letter]:
    """Letters generated already in presort order, lazily.

    Postcodes rise with the letter number; past 99,999 letters several letters share
    a postcode, so each postcode's few letters are sorted by the rest of the presort
    key (street, names) before they are handed on: memory stays one postcode's worth.
    """
    rnd = random.Random(seed)
    group: list[Letter] = []
    current = ""
    for i in range(n):
        postcode = f"{i * 99_999 // max(n, 1):05d}"
        if postcode != current:
            yield from sorted(group, key=lambda letter: presort_key(letter.recipient))
            group, current = [], postcode
        r = recipient(rnd, postcode)
        group.append(Letter(r.language, r, {}, code(i, True)))
    yield from sorted(group, key=lambda letter: presort_key(letter.recipient))


def variants() -> dict[str, Variant]:
    return {lang: render_variant(body, {}, language=lang) for lang, body in BODY.items()}


class Clock:
    """Wall-clock and CPU seconds of a block (the machine may be shared: both count)."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def fast(n: int, vs: dict[str, Variant], *, codes: bool = True) -> tuple[Clock, int]:
    """One batch of n letters in random order, written to a file; checked with pdfinfo."""
    letters = random_letters(n, codes=codes)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.pdf"
        with path.open("wb") as out, Clock() as clock:
            index = write_batch(vs, letters, out)
        size = path.stat().st_size
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(info.stdout.split("Pages:")[1].split()[0])
    assert len(index) == n and pages == n, (len(index), pages)
    return clock, size


#: The naive baselines: (label, reuse font configuration and fetcher, full_fonts).
NAIVE = {
    "as first written": (False, False),
    "reused font config and fetcher": (True, False),
    "reused, full_fonts=True": (True, True),
}


def naive(sample: int, kind: str) -> Clock:
    """One WeasyPrint document per letter: frame and body in one HTML, name inside."""
    reuse, full_fonts = NAIVE[kind]
    env = system_env()
    frames = {
        lang: env.get_template("letter/layout.html.j2").render(
            language=lang, sender=DEMO_SENDER, return_address=DEMO_SENDER.return_address
        )
        for lang in BODY
    }
    letters = random_letters(sample, seed=2)
    with Clock() as clock:
        shared = (isolated_font_config(), AssetFetcher(system=system_assets())) if reuse else None
        for letter in letters:
            naive_letter(frames[letter.recipient.language], letter.recipient, shared, full_fonts)
    return clock


def naive_letter(
    frame: str,
    r: Recipient,
    shared: tuple[object, AssetFetcher] | None = None,
    full_fonts: bool = False,
) -> None:
    """The letter as one HTML document: the frame with the address and body filled in."""
    address = "<br>".join(address_lines(r))
    body = BODY[r.language].replace(
        '<span class="pf" data-field="first_name"></span>', r.first_name
    )
    html = frame.replace(
        '<div class="address" id="address"></div>',
        f'<div class="address" id="address" style="font-size:10pt">{address}</div>',
    ).replace(
        '<div class="body-box" id="body-first"></div>',
        f'<div class="body-box" id="body-first" style="font-size:10.5pt">{body}</div>',
    )
    font_config, fetcher = shared or (isolated_font_config(), AssetFetcher(system=system_assets()))
    pdf = HTML(string=html, base_url=SYSTEM_BASE, url_fetcher=fetcher).write_pdf(
        font_config=font_config, full_fonts=full_fonts
    )
    assert pdf.startswith(b"%PDF")


def emails(n: int) -> Clock:
    builders = {
        lang: EmailBuilder(
            campaign_id=42,
            language=lang,
            subject="Kevään pyörätarjous" if lang == "fi" else "Vårens cykelerbjudande",
            assets={"assets/logo.png": LOGO},
            secret="bench-secret-0123456789abcdef",  # noqa: S106 - a benchmark key
            date=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC),
        )
        for lang in BODY
    }
    rnd = random.Random(3)
    people = [
        (rnd.choice(FIRST), rnd.choice(LAST), "sv" if rnd.random() < 0.3 else "fi")
        for _ in range(n)
    ]
    total = 0
    with Clock() as clock:
        for member_id, (first, last, lang) in enumerate(people):
            raw = builders[lang].build(
                member_id=member_id,
                to_address=f"member{member_id}@example.fi",
                to_name=f"{first} {last}",
                html_body=EMAIL_HTML.format(name=first),
                text_body=EMAIL_TEXT.format(name=first),
            )
            total += len(raw)
    assert total > 0
    return clock


def campaign_emails(n: int, *, variants: bool) -> Clock:
    """n e-mails of the demo creative as a campaign builds them (templates included)."""
    root = Path(__file__).resolve().parents[1]
    content = CampaignContent(
        campaign_id=42,
        bundle=load_bundle(root / "templates" / "creatives" / "nordic-air-spring"),
        secret="bench-secret-0123456789abcdef",  # noqa: S106 - a benchmark key
        email_variants=variants,
    )
    rnd = random.Random(4)
    stores = [None, "Prisma Itis", "S-market Vaasa", "Sale Åbo"]
    people = [
        (rnd.choice(FIRST), rnd.choice(LAST), rnd.choice(stores), rnd.random() < 0.3)
        for _ in range(n)
    ]
    total = 0
    with Clock() as clock:
        for member_id, (first, last, store, swedish) in enumerate(people):
            total += len(
                content.email(
                    member_id=member_id,
                    language="sv" if swedish else "fi",
                    first_name=first,
                    last_name=last,
                    home_store=store,
                    to_address=f"member{member_id}@example.fi",
                )
            )
    assert total > 0
    return clock


def child_memory(n: int, mode: str) -> None:
    """Run in a subprocess: one batch of n letters; print peak memory as JSON."""
    vs = variants()
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()  # before the letters exist: holding a batch counts too
    letters: Iterator[Letter] | list[Letter]
    letters = presorted_letters(n) if mode == "stream" else random_letters(n)
    with open(os.devnull, "wb") as out:
        index = write_batch(vs, letters, out, presorted=mode == "stream")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(index) == n, (len(index), n)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "n": n,
                "mode": mode,
                "traced_peak_mb": peak / 2**20,
                "maxrss_mb": rss / 1024,
                "rss_before_batch_mb": baseline_rss / 1024,
            }
        )
    )


def child_cold(n: int, started: float) -> None:
    """Run in a fresh process: layout and one batch, cold; print the times as JSON."""
    imported = time.time() - started
    with Clock() as layout:
        vs = variants()
    letters = random_letters(n)
    with open(os.devnull, "wb") as out, Clock() as batch:
        write_batch(vs, letters, out)
    print(json.dumps({"n": n, "import": imported, "layout": layout.wall, "batch": batch.wall}))


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    got: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def memory(sizes: list[int], modes: list[str]) -> list[dict[str, float]]:
    rows = []
    for mode in modes:
        for n in sizes:
            rows.append(run_child("--child-memory", str(n), "--mode", mode))
    return rows


def cold(n: int) -> dict[str, float]:
    """A fresh interpreter: process start to the end of the batch, and its parts."""
    started = time.time()
    got = run_child("--child-cold", str(n), "--started", repr(started))
    got["process"] = time.time() - started
    return got


def sizes_option(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 2000,20000, not {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=sizes_option, default=[2000, 20_000, 100_000], help="batch sizes"
    )
    parser.add_argument(
        "--letters", type=int, default=20_000, help="the batch size of the codes and naive ratios"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measure")
    parser.add_argument("--naive-sample", type=int, default=30, help="letters laid out one by one")
    parser.add_argument("--emails", type=int, default=20_000, help="e-mails to build")
    parser.add_argument(
        "--memory-sizes",
        type=sizes_option,
        default=[2000, 20_000, 100_000, 500_000],
        help="batch sizes for peak memory (streaming; sorting up to 100,000)",
    )
    _results.add_arguments(parser)
    parser.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-cold", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory, args.mode)
        return
    if args.child_cold:
        child_cold(args.child_cold, args.started)
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    started_load = _results.load()

    n = args.letters
    sizes = sorted({*args.sizes, n})
    vs = variants()
    fast(min(n, 500), vs)  # the QR table is built once per process (about 0.2 s)
    fast(n, vs)  # checked with pdfinfo: n letters, n pages
    layouts: list[float] = []
    warm: dict[int, list[float]] = {size: [] for size in sizes}
    warm_cpu: dict[int, list[float]] = {size: [] for size in sizes}
    plain: list[float] = []
    coded: list[float] = []  # CPU, for the cost per code
    naive_s: dict[str, list[float]] = {kind: [] for kind in NAIVE}
    pairs: dict[str, list[float]] = {kind: [] for kind in NAIVE}
    pairs_layout: dict[str, list[float]] = {kind: [] for kind in NAIVE}
    colds: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    for r in range(args.repeat):
        with Clock() as layout:
            vs = variants()
        layouts.append(layout.wall)
        for size in sizes:
            letters = random_letters(size, seed=r + 1)
            with open(os.devnull, "wb") as out, Clock() as batch:
                write_batch(vs, letters, out)
            warm[size].append(batch.wall)
            warm_cpu[size].append(batch.cpu)
            if size == n:
                coded.append(batch.cpu)
        letters = random_letters(n, seed=r + 1, codes=False)
        with open(os.devnull, "wb") as out, Clock() as bare:
            write_batch(vs, letters, out)
        plain.append(bare.cpu)
        per_letter = warm[n][-1] / n
        with_layout = (warm[n][-1] + layout.wall) / n
        for kind in NAIVE:
            slow = naive(args.naive_sample, kind)
            naive_s[kind].append(slow.wall / args.naive_sample)
            pairs[kind].append(naive_s[kind][-1] / per_letter)
            pairs_layout[kind].append(naive_s[kind][-1] / with_layout)
        for size in sizes:
            colds[size].append(cold(size))
        print(f"round {r + 1}/{args.repeat} done", file=sys.stderr)
    mem = memory(args.memory_sizes, ["stream"]) + memory(
        [m for m in args.memory_sizes if m <= 100_000], ["sort"]
    )
    mail = [emails(args.emails) for _ in range(args.repeat)]
    campaign_mail = [
        (campaign_emails(args.emails, variants=True), campaign_emails(args.emails, variants=False))
        for _ in range(args.repeat)
    ]
    section = render_section(
        args, started_load, sizes, layouts, warm, warm_cpu, plain, coded, naive_s, pairs,
        pairs_layout, colds, mem, mail, campaign_mail,
    )  # fmt: skip
    _results.publish(args, "render.py", section)


def render_section(
    args: argparse.Namespace,
    started_load: str,
    sizes: list[int],
    layouts: list[float],
    warm: dict[int, list[float]],
    warm_cpu: dict[int, list[float]],
    plain: list[float],
    coded: list[float],
    naive_s: dict[str, list[float]],
    pairs: dict[str, list[float]],
    pairs_layout: dict[str, list[float]],
    colds: dict[int, list[dict[str, float]]],
    mem: list[dict[str, float]],
    mail: list[Clock],
    campaign_mail: list[tuple[Clock, Clock]],
) -> str:
    n = args.letters
    med = statistics.median
    best = min(NAIVE, key=lambda kind: med(naive_s[kind]))
    per_code = (med(coded) - med(plain)) / n * 1e6
    lines = [
        "## Rendering",
        "",
        _results.stamp("render.py", started_load),
        "",
        f"Every figure is the median (min-max) of {args.repeat} runs. *Warm*: in one process "
        "after a first batch; the layout of the two variants is timed apart and either left "
        "out (the steady rate) or added (what one batch job costs). *Cold*: a fresh Python "
        "process per run: imports, font and QR tables, layout and the batch (process start "
        "to end), and the layout plus the batch alone. *Per CPU-second*: the warm batch's "
        "letters over the CPU time this process spent on it, the figure that moves least "
        "with the machine's load (the others are wall clock).",
        "",
        f"Variant layout (WeasyPrint, 2 variants fi/sv, once per batch job): "
        f"{_results.spread(layouts, '.2f')} s.",
        "",
        "| letters | warm, without layout | warm, per CPU-second | warm, with layout "
        "| cold, layout + batch | cold, process start to end |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        lay = med(layouts)
        c = colds[size]
        lines.append(
            f"| {size:,} | {_results.spread([size / t for t in warm[size]])} letters/s | "
            f"{_results.spread([size / max(t, 1e-9) for t in warm_cpu[size]])} letters/s | "
            f"{_results.spread([size / (t + lay) for t in warm[size]])} letters/s | "
            f"{_results.spread([size / (x['layout'] + x['batch']) for x in c])} letters/s | "
            f"{_results.spread([size / x['process'] for x in c])} letters/s |"
        )
    lines += [
        "",
        f"Target: >= 5,000 letters/s warm without layout at {n:,} letters; "
        f"median {n / med(warm[n]):,.0f}: {'met' if n / med(warm[n]) >= 5000 else 'NOT met'} "
        f"(per CPU-second: {n / max(med(warm_cpu[n]), 1e-9):,.0f}).",
        f"Code and QR code per letter (CPU of the {n:,}-letter batch with codes minus "
        f"without, medians): {per_code:.0f} µs.",
        "",
        f"Naive baselines, one WeasyPrint document per letter ({args.naive_sample} letters "
        "per run), and the batch engine against each, as the median (min-max) of the "
        f"ratios of paired runs (the {n:,}-letter warm batch and the naive letters, back "
        "to back):",
        "",
        "| naive baseline | per letter | batch / naive, without layout "
        "| batch / naive, layout included |",
        "|---|---:|---:|---:|",
    ]
    for kind in NAIVE:
        mark = " (fastest)" if kind == best else ""
        lines.append(
            f"| {kind}{mark} | {_results.spread([t * 1000 for t in naive_s[kind]], '.1f')} ms "
            f"| {_results.spread(pairs[kind])}× | {_results.spread(pairs_layout[kind])}× |"
        )
    headline = med(pairs[best])
    lines += [
        "",
        f"Against the fastest naive baseline ({best}): **{headline:,.0f}×** without the "
        f"layout, {med(pairs_layout[best]):,.0f}× with it (target >= 500×: "
        f"{'met' if headline >= 500 else 'NOT met'}).",
        "",
        "Peak memory of one batch, each size in a fresh process (`stream`: letters "
        "generated lazily in presort order and passed with `presorted=True`; `sort`: a list "
        "in random order, held in memory and sorted by `write_batch`). *Traced* is the "
        "tracemalloc peak from making the letters to the end of `write_batch`; *max RSS* "
        "is the whole process (WeasyPrint and the two variants included).",
        "",
        "| letters | mode | traced peak | max RSS |",
        "|---:|---|---:|---:|",
    ]
    for row in mem:
        lines.append(
            f"| {int(row['n']):,} | {row['mode']} | {row['traced_peak_mb']:.1f} MiB "
            f"| {row['maxrss_mb']:.0f} MiB |"
        )
    rates = [args.emails / c.wall for c in mail]
    lines += [
        "",
        f"E-mails to MIME bytes ({args.emails:,}, 2 variants, one inline image): "
        f"**{_results.spread(rates)} messages/s** (target >= 5,000/s).",
        "",
        f"A campaign's e-mails through the demo creative's templates ({args.emails:,}, "
        "`CampaignContent.email`, nordic-air-spring): from variants rendered once, "
        f"{_results.spread([args.emails / v.wall for v, _ in campaign_mail])} messages/s "
        f"({_results.spread([v.cpu / args.emails * 1e6 for v, _ in campaign_mail])} µs of "
        "CPU each); the sandbox rendering every member's, "
        f"{_results.spread([args.emails / p.wall for _, p in campaign_mail])} messages/s "
        f"({_results.spread([p.cpu / args.emails * 1e6 for _, p in campaign_mail])} µs); "
        "variants / per member, median of paired runs: "
        f"**{statistics.median(p.cpu / v.cpu for v, p in campaign_mail):.2f}×** (CPU).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
