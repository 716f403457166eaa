"""The monthly report as one self-contained HTML document, with its charts as inline SVG.

No scripts, fonts, images or style sheets from anywhere else: the document opens the same from
a mail attachment, a shared folder or an air-gapped machine, and prints as it shows. The two
charts — the 12-month trend (entries as bars, typical-case ratio as a line against the 50 %
target) and each jurisdiction's ratio as a bar against the target — are drawn here as SVG
markup; every text in them is escaped. The page itself is the Jinja template
`templates/report/monthly.html`, rendered with the notices' autoescaping environment.
Pure: no Prefect, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from notifications.render import notice_environment
from registry.reporting import MonthlyReport, percent_text
from registry.reporting.monthly import JurisdictionFigures, TrendPoint

TEMPLATE = "report/monthly.html"
FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
RED_COLOUR = "#c0392b"
OK_COLOUR = "#2e7d32"
BAR_COLOUR = "#5b8fd6"
LINE_COLOUR = "#d35400"
TARGET_COLOUR = "#555555"


def report_html(report: MonthlyReport, *, issuer: str, generated_on: date) -> str:
    """The whole report document (UTF-8 HTML5, Chinese)."""
    template = notice_environment().get_template(TEMPLATE)
    return template.render(
        report=report,
        issuer=issuer,
        generated_on=generated_on,
        department_total=report.department_total,
        trend_chart=trend_chart(report.trend, target=report.target),
        jurisdiction_chart=jurisdiction_chart(report.jurisdictions, target=report.target),
    )


# --- SVG -----------------------------------------------------------------------------------


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing `.0`."""
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, text: str, **attributes: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{escape(v)}"' for name, v in attributes.items())
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{escape(text)}</text>'


def _svg(width: int, height: int, label: str, body: Sequence[str]) -> Markup:
    head = (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" font-family="{escape(FONT)}" font-size="12">'
        f"<title>{escape(label)}</title>"
    )
    # Every text in `body` went through `escape`; the rest is markup built here.
    return Markup(head + "".join(body) + "</svg>")


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ multiple of 4 ticks that holds `value` (at least 4)."""
    if value <= 4:
        return 4
    step = value / 4
    magnitude = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= step:
            return int(factor * magnitude * 4)
    raise AssertionError("unreachable: factor 10 always holds the step")


def trend_chart(points: Sequence[TrendPoint], *, target: float) -> Markup:
    """Entries per month as bars (left axis), typical-case ratio as a line (right axis)."""
    width, height = 680, 280
    left, right, top, bottom = 48, 56, 36, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(points), 1)
    ceiling = nice_ceiling(max((p.entries for p in points), default=0))
    base = top + plot_h
    body: list[str] = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#ffffff" '
        'stroke="#cccccc"/>'
    ]
    for tick in range(5):
        y = base - plot_h * tick / 4
        body.append(
            f'<line x1="{left}" y1="{_n(y)}" x2="{left + plot_w}" y2="{_n(y)}" stroke="#eeeeee"/>'
        )
        body.append(_text(left - 6, y + 4, str(ceiling * tick // 4), text_anchor="end"))
        body.append(_text(left + plot_w + 6, y + 4, f"{25 * tick}%"))
    target_y = base - plot_h * target
    body.append(
        f'<line x1="{left}" y1="{_n(target_y)}" x2="{left + plot_w}" y2="{_n(target_y)}" '
        f'stroke="{TARGET_COLOUR}" stroke-dasharray="6 4"/>'
    )
    segments: list[list[str]] = [[]]
    dots: list[str] = []
    for i, point in enumerate(points):
        centre = left + slot * (i + 0.5)
        bar_h = plot_h * point.entries / ceiling
        tip = f"{point.label}：名单 {point.entries} 条，典型案例 {point.typical} 个，占比 " + (
            percent_text(point.ratio)
        )
        body.append(
            f'<rect x="{_n(centre - slot * 0.3)}" y="{_n(base - bar_h)}" '
            f'width="{_n(slot * 0.6)}" height="{_n(bar_h)}" fill="{BAR_COLOUR}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if point.entries:
            body.append(_text(centre, base - bar_h - 4, str(point.entries), text_anchor="middle"))
        body.append(_text(centre, base + 16, f"{int(point.month[5:])}月", text_anchor="middle"))
        if i == 0 or point.month.endswith("-01"):
            body.append(
                _text(centre, base + 32, f"{point.month[:4]}年", text_anchor="middle", fill="#777")
            )
        if point.ratio is None:
            segments.append([])
            continue
        y = base - plot_h * point.ratio
        segments[-1].append(f"{_n(centre)},{_n(y)}")
        colour = RED_COLOUR if point.ratio < target else OK_COLOUR
        dots.append(
            f'<circle cx="{_n(centre)}" cy="{_n(y)}" r="4" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    for segment in segments:
        if len(segment) > 1:
            body.append(
                f'<polyline points="{" ".join(segment)}" fill="none" stroke="{LINE_COLOUR}" '
                'stroke-width="2"/>'
            )
    body += dots
    body += [
        f'<rect x="{left}" y="10" width="12" height="12" fill="{BAR_COLOUR}"/>',
        _text(left + 16, 20, "红、黑名单数（左轴）"),
        f'<line x1="{left + 150}" y1="16" x2="{left + 174}" y2="16" stroke="{LINE_COLOUR}" '
        'stroke-width="2"/>',
        _text(left + 178, 20, "典型案例占比（右轴）"),
        f'<line x1="{left + 320}" y1="16" x2="{left + 344}" y2="16" stroke="{TARGET_COLOUR}" '
        'stroke-dasharray="6 4"/>',
        _text(left + 348, 20, f"目标 {percent_text(target)}"),
    ]
    return _svg(width, height, "近12个月红、黑名单数与典型案例占比", body)


def jurisdiction_chart(rows: Sequence[JurisdictionFigures], *, target: float) -> Markup:
    """Each jurisdiction's typical-case ratio as a bar; the target as a dashed line."""
    width, left, right, top, row_h = 680, 130, 70, 30, 26
    plot_w = width - left - right
    height = top + row_h * max(len(rows), 1) + 12
    body: list[str] = []
    for tick in range(5):
        x = left + plot_w * tick / 4
        body.append(
            f'<line x1="{_n(x)}" y1="{top - 6}" x2="{_n(x)}" y2="{height - 8}" stroke="#eeeeee"/>'
        )
        body.append(_text(x, top - 12, f"{25 * tick}%", text_anchor="middle"))
    for i, row in enumerate(rows):
        y = top + row_h * i
        body.append(_text(left - 8, y + 17, row.name, text_anchor="end"))
        ratio = row.ratio or 0.0
        colour = RED_COLOUR if row.below_target else OK_COLOUR
        tip = (
            f"{row.name}：典型案例 {row.typical} 个 / 红、黑名单 {row.entries} 条 = "
            f"{percent_text(row.ratio)}" + ("（未达标）" if row.below_target else "")
        )
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{_n(plot_w * min(ratio, 1.0))}" '
            f'height="{row_h - 8}" fill="{colour}"><title>{escape(tip)}</title></rect>'
        )
        label = percent_text(row.ratio) + ("  未达标" if row.below_target else "")
        body.append(
            _text(
                left + plot_w * min(ratio, 1.0) + 6,
                y + 17,
                label,
                fill=RED_COLOUR if row.below_target else "#333333",
            )
        )
    target_x = left + plot_w * target
    body.append(
        f'<line x1="{_n(target_x)}" y1="{top - 6}" x2="{_n(target_x)}" y2="{height - 8}" '
        f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    return _svg(width, height, f"各辖区典型案例占比（目标 {percent_text(target)}）", body)
