"""Rendering a digest: HTML through the one Jinja environment (inline SVG charts whose labels
stay `<text>`), Markdown (tables instead of charts), or an Excel workbook (`digest_tables`)."""

from __future__ import annotations

from typing import Any

from service.digest_data import Digest, Labels, check_format
from service.digest_tables import workbook_bytes
from templates import language, pct, render
from workflow.measures import Measures


def render_digest(digest: Digest, fmt: str, lang: str | None = None) -> bytes:
    """The digest as HTML, Markdown (UTF-8) or an Excel workbook."""
    check_format(fmt)
    chosen = language(lang or digest.lang)
    labels = digest.labels(chosen)
    if fmt == "xlsx":
        return workbook_bytes(digest, labels)
    context = dict(digest.context)
    context.update(
        title=digest.title_in(chosen),
        L=labels,
        charts=_charts(digest, labels) if fmt == "html" else {},
    )
    text = render(f"digests/{digest.kind}.{fmt}", chosen, **context)
    return text.encode("utf-8")


def _chart_row(label: str, value: float | None, text: str) -> dict[str, Any]:
    return {"label": label, "value": value, "text": text}


def _charts(digest: Digest, labels: Labels) -> dict[str, Any]:
    """The data of the HTML charts (drawn by the macros of `digests/_charts.svg.j2`)."""
    c = digest.context
    zh = labels.lang == "zh"
    pieces = "件" if zh else ""

    def volume(m: Measures) -> str:
        return f"{m.volume}{pieces}"

    charts: dict[str, Any] = {}
    if digest.kind == "daily":
        return charts
    if digest.kind == "weekly":
        unit_rows: list[Measures] = c["by_unit"]
    else:
        unit_rows = [r.measures for r in c["ranked"]]
    charts["unit_volume"] = [_chart_row(labels.unit(m.key), m.volume, volume(m)) for m in unit_rows]
    charts["unit_on_time"] = [
        _chart_row(labels.unit(m.key), m.on_time_rate, pct(m.on_time_rate)) for m in unit_rows
    ]
    charts["categories"] = [
        _chart_row(
            labels.category(s.measures.key),
            s.measures.volume,
            f"{volume(s.measures)}（{pct(s.share)}）"
            if zh
            else f"{s.measures.volume} ({pct(s.share)})",
        )
        for s in c["categories"]
    ]
    if digest.kind == "monthly":
        charts["trend"] = [
            {
                "label": f"{p.start.month}月" if zh else f"{p.start:%b}",
                "volume": m.volume,
                "rate": m.on_time_rate,
                "rate_text": pct(m.on_time_rate),
            }
            for p, m in c["trend"]
        ]
    return charts
