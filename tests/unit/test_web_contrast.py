"""Colour contrast of the web app (WCAG 2.1 AA), read from gateway/web/static/app.css itself.

PAIRS below is the one table of what is drawn on what: each row names the CSS rule (selector and
property, as written in app.css) that gives the foreground and the rule that gives the background
it really sits on, and what kind of thing it is:

- TEXT: normal text, SC 1.4.3, at least 4.5:1;
- LARGE: large text (24 px, or 18.66 px bold), SC 1.4.3, at least 3:1;
- UI: the edge of a control, a state indicator, the focus outline or a graphical object
  needed to understand the content, SC 1.4.11, at least 3:1.

Colours are resolved through the custom properties of :root, so a change of a colour or of a
variable that breaks contrast fails here. Every rule of app.css that sets a text colour must be
in the table (or in NO_TEXT_PAIR with the reason), so a new coloured text cannot slip by.

Borders of panels, tables and calendar cells drawn in --line are decoration, not what makes a
control recognisable (every such control has its text or its own fill), so they are not here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)

CSS_PATH = Path(__file__).resolve().parents[2] / "gateway" / "web" / "static" / "app.css"

TEXT, LARGE, UI = "text", "large", "ui"
MINIMUM = {TEXT: 4.5, LARGE: 3.0, UI: 3.0}

PHONE = "(max-width: 600px)"
TABLET = "(max-width: 900px)"


@dataclass(frozen=True)
class Ref:
    """The colour a CSS rule gives: `selector` exactly as one of the rule's selectors, `prop` the
    property (a shorthand such as `background` or `border` counts for its colour), `media` the
    condition of the @media block the rule is in (None: outside any)."""

    selector: str
    prop: str
    media: str | None = None

    def __str__(self) -> str:
        where = f" @media {self.media}" if self.media else ""
        return f"{self.selector} {{{self.prop}}}{where}"


def c(selector: str, media: str | None = None) -> Ref:
    return Ref(selector, "color", media)


def bg(selector: str, media: str | None = None) -> Ref:
    return Ref(selector, "background", media)


def border(selector: str, media: str | None = None) -> Ref:
    return Ref(selector, "border", media)


BODY_BG = bg("body")  # the page behind main and the public (sign-in) pages
SURFACE = bg("main > section")  # panels, cards, forms, the top bar and the menu
FOCUS = Ref(":focus-visible", "outline")

# (what, foreground, background, kind) — the foreground/background pairs the CSS really draws.
PAIRS: list[tuple[str, Ref, Ref, str]] = [
    # the page and its panels
    ("body text on the page", c("body"), BODY_BG, TEXT),
    ("body text in a panel", c("body"), SURFACE, TEXT),
    ("muted text on the page", c(".muted"), BODY_BG, TEXT),
    ("muted text in a panel", c(".muted"), SURFACE, TEXT),
    ("hint on the page", c(".hint"), BODY_BG, TEXT),
    ("hint in a panel", c(".hint"), SURFACE, TEXT),
    ("empty-list text in a panel", c(".empty"), SURFACE, TEXT),
    ("loading text on the page", c(".loading"), BODY_BG, TEXT),
    ("boot text on the page", c(".boot"), BODY_BG, TEXT),
    ("secret (TOTP) code on its chip", c("body"), bg(".secret"), TEXT),
    # links
    ("link on the page", c("a"), BODY_BG, TEXT),
    ("link in a panel", c("a"), SURFACE, TEXT),
    ("hovered link in a panel", c("a:hover"), SURFACE, TEXT),
    ("skip link", c(".skip-link"), bg(".skip-link"), TEXT),
    # buttons
    ("primary button", c(".primary"), bg(".primary"), TEXT),
    ("hovered primary button", c(".primary:hover"), bg(".primary:hover"), TEXT),
    ("secondary button", c(".secondary"), bg(".secondary"), TEXT),
    ("hovered secondary button", c(".secondary"), bg(".secondary:hover"), TEXT),
    ("secondary button edge", Ref(".secondary", "border-color"), SURFACE, UI),
    ("danger button", c(".danger"), bg(".danger"), TEXT),
    ("link button in a panel (language switch in the top bar)", c(".link-button"), bg(".topbar"), TEXT),
    ("link button on the page (language switch of the sign-in page)", c(".link-button"), BODY_BG, TEXT),
    ("menu button (narrow screens)", c(".menu-toggle", TABLET), bg(".menu-toggle", TABLET), TEXT),
    ("menu button edge (narrow screens)", border(".menu-toggle", TABLET), bg(".topbar"), UI),
    ("brand mark", c(".brand-mark"), bg(".brand-mark"), TEXT),
    ("brand name in the top bar", c(".brand"), bg(".topbar"), TEXT),  # 18.4 px bold: not large
    # form controls and their problems
    ("text in an input", c("input"), bg("input"), TEXT),
    ("input edge in a panel", border("input"), SURFACE, UI),
    ("input edge on the page (search row, child switcher)", border("input"), BODY_BG, UI),
    ("input edge on its own fill", border("input"), bg("input"), UI),
    ("invalid input edge", Ref('[aria-invalid="true"]', "border-color"), bg("input"), UI),
    ("checked checkbox or radio", Ref('input[type="checkbox"]', "accent-color"), SURFACE, UI),
    ("field error", c(".field-error"), SURFACE, TEXT),
    ("form problem (alert)", c(".form-alert"), bg(".form-alert"), TEXT),
    ("error notice", c(".notice-error"), bg(".notice-error"), TEXT),
    ("success notice", c(".notice-success"), bg(".notice-success"), TEXT),
    ("info notice", c(".notice-info"), bg(".notice-info"), TEXT),
    ("warning notice", c(".notice-warning"), bg(".notice-warning"), TEXT),
    ("term label in a success notice (new account)", c("dl.pairs dt"), bg(".notice-success"), TEXT),
    ("hint in a success notice (new account)", c(".hint"), bg(".notice-success"), TEXT),
    ("toast", c(".toast"), bg(".toast"), TEXT),
    ("error toast", c(".toast"), bg(".toast-error"), TEXT),
    ("success toast", c(".toast"), bg(".toast-success"), TEXT),
    # the frame: top bar and menu
    ("who is signed in", c(".who"), bg(".topbar"), TEXT),
    ("child switcher label", c(".child-switcher label"), bg(".topbar"), TEXT),
    ("menu item", c(".menu a"), bg(".menu"), TEXT),
    ("hovered menu item", c(".menu a"), bg(".menu a:hover"), TEXT),
    ("current menu item", c('.menu a[aria-current="page"]'), bg('.menu a[aria-current="page"]'), TEXT),
    ("current menu item marker (state)", Ref('.menu a[aria-current="page"]', "box-shadow"), bg('.menu a[aria-current="page"]'), UI),
    ("current menu item marker against the menu (state)", Ref('.menu a[aria-current="page"]', "box-shadow"), bg(".menu"), UI),
    # focus indicator against everything it is drawn on
    ("focus outline on the page", FOCUS, BODY_BG, UI),
    ("focus outline in a panel", FOCUS, SURFACE, UI),
    ("focus outline around a lesson card", FOCUS, bg(".day-column"), UI),
    ("focus outline around the retry button of a problem", FOCUS, bg(".notice-error"), UI),
    ("focus outline of an attendance choice", Ref(".status-option input:focus-visible + .status-label", "outline"), SURFACE, UI),
    # tabs and tables
    ("tab", c(".tab"), bg(".tab"), TEXT),
    ("active tab", c(".tab.active"), bg(".tab.active"), TEXT),
    ("active tab against an inactive one (state)", bg(".tab.active"), bg(".tab"), UI),
    ("table header", c("thead th"), bg("thead th"), TEXT),
    ("table cell", c("body"), bg(".table-wrap"), TEXT),
    ("term label in a pair list", c("dl.pairs dt"), SURFACE, TEXT),
    ("column label on a phone (grade sheet)", c(".sheet-table td[data-label]::before", PHONE), SURFACE, TEXT),
    ("column label on a phone (grades)", c(".grades-table td[data-label]::before", PHONE), SURFACE, TEXT),
    # badges
    ("badge", c(".badge"), bg(".badge"), TEXT),
    ("badge new/pending/open", c(".badge-new"), bg(".badge-new"), TEXT),
    ("badge paid/accepted/closed", c(".badge-paid"), bg(".badge-paid"), TEXT),
    ("badge rejected/cancelled", c(".badge-rejected"), bg(".badge-rejected"), TEXT),
    ("badge refunded/warning/answered", c(".badge-refunded"), bg(".badge-refunded"), TEXT),
    ("badge test", c(".badge-test"), bg(".badge-test"), TEXT),
    ("badge quiz", c(".badge-quiz"), bg(".badge-quiz"), TEXT),
    ("badge event", c(".badge-event"), bg(".badge-event"), TEXT),
    ("badge meeting", c(".badge-meeting"), bg(".badge-meeting"), TEXT),
    # grades
    ("grade chip", c(".grade"), bg(".grade"), TEXT),
    ("hovered grade chip", c(".grade"), bg(".grade:hover"), TEXT),
    ("grade chip edge", border(".grade"), SURFACE, UI),
    ("heavy grade chip edge", border(".grade-heavy"), SURFACE, UI),
    ("grade not counted", c(".grade-muted"), bg(".grade"), TEXT),
    ("grade weight", c(".grade-weight"), bg(".grade"), TEXT),
    ("term grade abbreviation", c(".term abbr"), SURFACE, TEXT),
    ("chart axis label", Ref(".chart-label", "fill"), bg(".chart-svg"), TEXT),
    ("chart grade dot", Ref(".chart-dot", "fill"), bg(".chart-svg"), UI),
    ("chart grade dot not counted", Ref(".chart-dot-muted", "fill"), bg(".chart-svg"), UI),
    ("chart average line", Ref(".chart-line", "stroke"), bg(".chart-svg"), UI),
    ("chart legend", c(".chart-legend"), SURFACE, TEXT),
    ("chart legend dot", bg(".legend-dot"), SURFACE, UI),
    ("chart legend line", bg(".legend-line"), SURFACE, UI),
    # attendance
    ("statistic label", c(".stat-label"), bg(".stat"), TEXT),
    ("weekday", c(".weekday"), SURFACE, TEXT),
    ("calendar day", c(".day"), bg(".day"), TEXT),
    ("today's calendar day (state)", border(".day-today"), bg(".day"), UI),
    ("today's day column (state)", border(".day-column.today"), BODY_BG, UI),
    ("status present", c(".status-present"), bg(".status-present"), TEXT),
    ("status absent", c(".status-absent"), bg(".status-absent"), TEXT),
    ("status late", c(".status-late"), bg(".status-late"), TEXT),
    ("status excused", c(".status-excused"), bg(".status-excused"), TEXT),
    ("status released", c(".status-released"), bg(".status-released"), TEXT),
    ("status school absence", c(".status-school_absence"), bg(".status-school_absence"), TEXT),
    ("status other", c(".status-other"), bg(".status-other"), TEXT),
    ("lesson card", c(".lesson-card"), bg(".lesson-card"), TEXT),
    ("hovered lesson card", c(".lesson-card"), bg(".lesson-card:hover"), TEXT),
    ("cancelled lesson", c(".lesson-card.cancelled"), bg(".lesson-card"), TEXT),
    ("lesson time", c(".lesson-time"), bg(".lesson-card"), TEXT),
    ("lesson time on a hovered card", c(".lesson-time"), bg(".lesson-card:hover"), TEXT),
    ("attendance choice", c(".status-label"), bg(".status-label"), TEXT),
    ("attendance choice edge", border(".status-label"), SURFACE, UI),
    *[
        (f"chosen attendance {status}", c(f".status-option input:checked + .status-label.status-{status}"),
         bg(f".status-option input:checked + .status-label.status-{status}"), TEXT)
        for status in ("present", "absent", "late", "excused", "released", "school_absence")
    ],
    ("chosen attendance other", c(".status-label"), bg(".status-option input:checked + .status-label.status-other"), TEXT),
    *[
        (f"chosen attendance {status} edge", Ref(f".status-option input:checked + .status-label.status-{status}", "border-color"), SURFACE, UI)
        for status in ("present", "absent", "late", "excused", "released", "school_absence", "other")
    ],
    # messages, announcements, calendar, billing
    ("message in a list", c(".message-item a"), SURFACE, TEXT),
    ("hovered message in a list", c(".message-item a"), bg(".message-item a:hover"), TEXT),
    ("message date and size", c(".message-meta"), SURFACE, TEXT),
    ("own message in a conversation", c("body"), bg(".conversation li.own .message-body"), TEXT),
    ("read receipt", c(".read"), SURFACE, TEXT),
    ("calendar event description", c(".agenda-description"), bg(".agenda-item"), TEXT),
    ("tick of what extended access gives", c(".ticks li::marker"), bg(".paywall"), TEXT),
]

# Rules that set a text colour but pair with nothing new: (selectors as written, media) -> why.
NO_TEXT_PAIR: dict[tuple[str, str | None], str] = {}


# -- reading app.css -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    selectors: tuple[str, ...]
    declarations: tuple[tuple[str, str], ...]
    media: str | None


def _parse(text: str, media: str | None = None) -> list[Rule]:
    """The style rules in source order, those of @media blocks with their condition."""
    rules: list[Rule] = []
    position = 0
    while True:
        opening = text.find("{", position)
        if opening < 0:
            break
        depth, end = 1, opening + 1
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        prelude, body = text[position:opening].strip(), text[opening + 1:end - 1]
        if prelude.startswith("@media"):
            rules += _parse(body, prelude[len("@media"):].strip())
        elif not prelude.startswith("@"):
            declarations = []
            for declaration in body.split(";"):
                name, colon, value = declaration.partition(":")
                if colon:
                    declarations.append((name.strip().lower(), value.replace("!important", "").strip()))
            selectors = tuple(" ".join(s.split()) for s in prelude.split(","))
            rules.append(Rule(selectors, tuple(declarations), media))
        position = end
    return rules


def read_css(path: Path = CSS_PATH) -> list[Rule]:
    return _parse(re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S))


RULES = read_css()

# The properties whose value may carry the colour a Ref asks for, in the order CSS applies them.
FAMILY = {
    "background": ("background", "background-color"),
    "border": ("border", "border-color"),
    "border-color": ("border", "border-color"),
    "outline": ("outline", "outline-color"),
    "color": ("color",),
    "accent-color": ("accent-color",),
    "fill": ("fill",),
    "stroke": ("stroke",),
    "box-shadow": ("box-shadow",),
}
NAMED = {"white": "#ffffff", "black": "#000000"}
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:white|black)\b|rgba?\([^)]*\)")


def custom_properties(rules: list[Rule]) -> dict[str, str]:
    return {name: value for rule in rules if ":root" in rule.selectors and rule.media is None for name, value in rule.declarations if name.startswith("--")}


def _resolve(value: str, variables: dict[str, str], depth: int = 0) -> str:
    assert depth < 10, f"custom properties refer to each other in a circle: {value}"
    replaced = re.sub(r"var\(\s*(--[\w-]+)\s*(?:,[^)]*)?\)", lambda m: variables[m.group(1)], value)
    return replaced if replaced == value else _resolve(replaced, variables, depth + 1)


def _rgb(token: str) -> tuple[int, int, int]:
    token = NAMED.get(token.lower(), token)
    if token.startswith("rgb"):
        parts = [p.strip() for p in re.split(r"[,\s/]+", token[token.index("(") + 1:-1]) if p.strip()]
        assert len(parts) == 3 or float(parts[3]) == 1, f"a translucent colour needs what is behind it: {token}"
        return tuple(int(p) for p in parts[:3])  # type: ignore[return-value]
    digits = token[1:]
    if len(digits) in (3, 4):
        digits = "".join(d * 2 for d in digits[:3])
    assert len(digits) in (6, 8), token
    assert len(digits) == 6 or digits[6:] == "ff", f"a translucent colour needs what is behind it: {token}"
    return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def colour(ref: Ref, rules: list[Rule] = RULES) -> tuple[int, int, int]:
    """The colour the last rule with this selector (in this @media) gives to the property."""
    variables = custom_properties(rules)
    found = None
    for rule in rules:
        if ref.selector in rule.selectors and rule.media == ref.media:
            for name, value in rule.declarations:
                if name in FAMILY[ref.prop]:
                    tokens = COLOUR.findall(_resolve(value, variables))
                    if tokens:
                        found = (rule, tokens[-1] if name == "box-shadow" else tokens[0])
    assert found, f"app.css has no colour for {ref}"
    return _rgb(found[1])


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.1 relative luminance (sRGB, the 0.04045 threshold of the sRGB standard)."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(channel) for channel in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# -- the checks -----------------------------------------------------------------------------------------


def test_the_contrast_formula_matches_wcag():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert contrast_ratio(_rgb("#767676"), _rgb("#fff")) == pytest.approx(4.54, abs=0.01)  # the classic AA grey
    assert contrast_ratio(_rgb("#777777"), _rgb("white")) < 4.5


def test_the_table_reads_real_rules_of_app_css():
    variables = custom_properties(RULES)
    assert {"--text", "--muted", "--bg", "--surface", "--primary", "--focus"} <= set(variables)
    assert colour(c("body")) == _rgb(variables["--text"])
    assert colour(FOCUS) == _rgb(variables["--focus"])
    assert len({what for what, *_ in PAIRS}) == len(PAIRS), "a pair is in the table twice"


@pytest.mark.parametrize(("what", "foreground", "background", "kind"), PAIRS, ids=[row[0] for row in PAIRS])
def test_contrast_meets_wcag_aa(what, foreground, background, kind):
    ratio = contrast_ratio(colour(foreground), colour(background))

    assert ratio >= MINIMUM[kind], f"{what}: {ratio:.2f}:1 < {MINIMUM[kind]}:1 ({foreground} on {background})"


def test_every_text_colour_of_app_css_is_in_the_table():
    paired = {(ref.selector, ref.media) for _, ref, _, _ in PAIRS if ref.prop == "color"}
    unchecked = []
    for rule in RULES:
        if any(name == "color" for name, _ in rule.declarations) and not any((s, rule.media) in paired for s in rule.selectors):
            if (", ".join(rule.selectors), rule.media) not in NO_TEXT_PAIR:
                unchecked.append(f"{', '.join(rule.selectors)}" + (f" @media {rule.media}" if rule.media else ""))

    assert unchecked == [], "text colours with no background pair in PAIRS"
