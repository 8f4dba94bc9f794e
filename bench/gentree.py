#!/usr/bin/env python3
"""Deterministic generator of realistic skill trees for benchmarks (stdlib only).

    python bench/gentree.py OUT_DIR --skills N [--seed S] [--decoy] [--prefix P]
                            [--defect-rate R] [--queries FILE] [--manifest FILE]

or, from Python, ``generate(Path(out), skills=N, seed=S)``, which returns a TreeStats.

The tree has the shape of a real skill marketplace: plugins of about ten skills under
``plugins/<plugin>/`` (one ``using-<topic>`` router each, linking routing-table rows, ``Route to``
lines and arrows), a top router that routes to every plugin router, reference sheets beside each
skill, slash commands, cross-pack references, fenced code that must not be parsed, and a known
number of injected defects. All text is built from the vocabulary below, written for this
generator; every plugin gets its own domain words so that routing over the tree means something.

Same arguments, same bytes: one seeded ``random.Random`` per plugin, no set iteration, no clock.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import string
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFECT_KINDS: tuple[str, ...] = (
    "dead_route",  # a routing-table row names a skill that does not exist (a near miss)
    "broken_link",  # a sheet linked one level wrong: skills/x.md instead of x.md
    "broken_anchor",  # x.md#slug where x.md has no such heading
    "missing_use_when",  # a routed skill whose description never says "Use when"
    "yaml_colon",  # an unquoted ": " inside the description: the front matter fails to load
    "orphan_sheet",  # a sheet in a skill folder that nothing links
    "name_mismatch",  # front matter name differs from the folder name
)


@dataclass(slots=True)
class InjectedDefect:
    kind: str
    path: str  # POSIX path relative to the tree root, of the file that holds the defect
    detail: str


@dataclass(slots=True)
class RouteQuery:
    """A task described in a user's words and the skill that should answer it."""

    query: str
    expected: str  # id: plugin/skill, or skill for plugin-less skills


@dataclass
class TreeStats:
    root: str
    seed: int
    decoy: bool
    files: int = 0
    bytes: int = 0
    skills: int = 0  # folders holding a SKILL.md, routers included
    routers: int = 0
    sheets: int = 0  # other .md files in skill folders, orphan sheets included
    plugins: int = 0
    commands: int = 0
    defects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEFECT_KINDS, 0))
    injected: list[InjectedDefect] = field(default_factory=list)
    queries: list[RouteQuery] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Counts only: what a benchmark prints next to its timings."""
        d = asdict(self)
        del d["injected"], d["queries"]
        d["defects_total"] = sum(self.defects.values())
        return d


# --------------------------------------------------------------------------------------------
# Vocabulary. Each theme: nouns | verbs | adjectives, single lowercase words (no hyphens, so a
# name built from them is always kebab-case and prose never looks like a skill name).

_THEMES: dict[str, tuple[str, str, str]] = {
    "hydrology": (
        "aquifer watershed runoff streamflow gauge floodplain recharge baseflow infiltration catchment "
        "hydrograph wetland levee culvert sediment estuary reservoir spillway drawdown discharge percolation",
        "gauge drain recharge divert sample survey meter dredge",
        "saturated perched tidal ephemeral brackish alluvial",
    ),
    "apiculture": (
        "hive colony brood queen drone forager comb nectar pollen propolis swarm super frame smoker "
        "varroa mite apiary honeyflow nuc excluder wax",
        "inspect split requeen feed harvest overwinter treat merge",
        "queenless docile robust feral overcrowded chalky",
    ),
    "stargazing": (
        "telescope eyepiece mount collimation seeing transparency aperture focuser dewpoint ephemeris "
        "occultation transit nebula cluster magnitude parallax guidescope flatfield darkframe exposure",
        "align track stack calibrate guide image collimate focus",
        "sidereal faint circumpolar diffuse variable zenithal",
    ),
    "typography": (
        "typeface kerning leading tracking ligature glyph baseline ascender descender serif counter "
        "xheight hyphenation widow measure gutter folio specimen hinting fallback",
        "kern set justify hyphenate hint proof pair scale",
        "condensed monospaced humanist geometric italic optical",
    ),
    "cartography": (
        "projection graticule datum contour hillshade legend scalebar generalization symbology basemap "
        "raster label toponym bearing grid inset choropleth isoline benchmark",
        "project label generalize digitize georeference simplify classify render",
        "conformal equidistant thematic topographic azimuthal coastal",
    ),
    "viticulture": (
        "vineyard rootstock canopy trellis veraison must lees fermentation tannin acidity barrel "
        "racking fining cuvee vintage yeast sulfite cellar pruning bunch",
        "prune rack blend ferment press age fine bottle",
        "oaked tannic dry late volatile reductive",
    ),
    "welding": (
        "weld bead filler electrode arc shielding porosity spatter penetration preheat quench temper "
        "hardness austenite martensite annealing grain alloy slag fusion joint fixture",
        "weld anneal quench temper grind braze clamp tack",
        "ductile brittle ferrous galvanized cold undercut",
    ),
    "acoustics": (
        "reverb absorber diffuser resonance decibel microphone preamp impedance feedback monitor "
        "isolation flutter crossover subwoofer frequency damping reflection decay loudness noise",
        "measure treat damp isolate equalize mic mix tune",
        "reverberant dead anechoic flat muddy boomy",
    ),
    "horology": (
        "escapement balance hairspring mainspring pallet jewel crown movement regulator beat amplitude "
        "isochronism oscillator barrel train dial bezel lubricant caseback tourbillon",
        "regulate service wind lubricate demagnetize adjust oil time",
        "mechanical automatic fast slow magnetized positional",
    ),
    "ceramics": (
        "clay glaze kiln bisque slip wedging throwing trimming firing cone crazing shivering crawling "
        "pinhole kilnwash grog stoneware porcelain earthenware underglaze reduction oxidation",
        "wedge throw trim fire glaze dry reclaim load",
        "leatherhard bonedry matte glossy vitrified warped",
    ),
    "aviation": (
        "altimeter airspeed stall flaps trim rudder aileron pitot magneto carburetor icing crosswind "
        "runway circuit approach clearance transponder squawk payload fuel notam",
        "preflight taxi climb descend flare divert brief trim",
        "gusty marginal uncontrolled instrument visual heavy",
    ),
    "sailing": (
        "tack jibe mainsail jib halyard boom keel rudder heel reef mooring anchor windward leeward "
        "spinnaker winch cleat shackle buoy tide current chart",
        "tack jibe reef trim moor anchor hoist heave",
        "close broad beam upwind downwind luffing",
    ),
    "volcanology": (
        "magma lava tephra caldera vent fissure pyroclastic lahar ash plume tremor inflation "
        "deformation degassing dome crater eruption scoria obsidian fumarole sulfur",
        "monitor sample map forecast evacuate model survey image",
        "effusive explosive dormant basaltic viscous restless",
    ),
    "ornithology": (
        "plumage molt banding mistnet transect call song fledgling nestling clutch migration flyway "
        "roost census spectrogram wingspan raptor warbler shorebird territory feeder",
        "band count survey record identify census flush tally",
        "juvenile nocturnal migratory resident vagrant cryptic",
    ),
    "forestry": (
        "stand understory thinning coppice rotation silviculture timber basal diameter increment "
        "seedling nursery firebreak windthrow regeneration inventory cruise plot snag stumpage",
        "thin plant cruise measure burn harvest mark regenerate",
        "evenaged mature dense riparian burned mixed",
    ),
    "seismology": (
        "seismometer waveform epicenter hypocenter aftershock foreshock fault rupture attenuation "
        "arrival phase moment tensor station array microseism liquefaction amplification spectrum catalog",
        "locate pick invert filter detect relocate stack deconvolve",
        "shallow deep teleseismic regional induced felt",
    ),
    "brewing": (
        "mash wort hops malt sparge boil lauter pitch gravity hydrometer krausen diacetyl conditioning "
        "keg carbonation adjunct mashtun fermenter whirlpool chiller",
        "mash sparge pitch boil hop crash keg condition",
        "hazy bitter stuck sour oxidized crisp",
    ),
    "weaving": (
        "warp weft loom heddle shed reed shuttle treadle selvedge draft threading tieup sett beater "
        "bobbin yarn twill tabby float tension fringe",
        "warp thread sley beat weave finish full wind",
        "balanced loose tight handspun plied felted",
    ),
    "bookbinding": (
        "signature endpaper spine headband boards bookcloth paste awl stitch sewing tapes mull "
        "backing rounding casing press bonefolder deckle quire glue",
        "fold sew glue round back case trim press",
        "archival flush limp coptic cockled acidfree",
    ),
    "cheesemaking": (
        "curd whey rennet culture coagulation cheddaring brine rind mold affinage cave humidity hoop "
        "salting starter lactose ripening wheel bloom paste",
        "cut drain press brine age turn salt culture",
        "washed bloomy soft hard raw pasteurized",
    ),
    "photography": (
        "shutter sensor histogram bracketing lens focal bokeh vignetting flare tripod strobe raw "
        "highlight shadow composition metering autofocus crop aperture exposure",
        "meter bracket focus shoot retouch grade expose frame",
        "overexposed underexposed soft sharp backlit noisy",
    ),
    "perfumery": (
        "accord note absolute concrete tincture fixative drydown sillage longevity musk amber citrus "
        "aldehyde maceration dilution blotter formula base heart tenacity",
        "dilute blend macerate evaluate smell compound age weigh",
        "woody floral powdery resinous volatile animalic",
    ),
    "signalling": (
        "interlocking aspect block circuit axlecounter points derailer headway overlap dispatcher "
        "timetable platform junction siding balise trackside possession lineside ballast cant",
        "clear protect dispatch signal lock release isolate inspect",
        "permissive absolute conflicting occupied degraded manual",
    ),
    "mycology": (
        "mycelium spore fruiting substrate spawn inoculation colonization pinning flush cap gill "
        "stipe hyphae agar contamination pasteurization monotub sporeprint humidity casing",
        "inoculate incubate fruit mist sterilize transfer isolate harvest",
        "contaminated colonized aborted rhizomorphic wild cultivated",
    ),
    "glaciology": (
        "glacier icecap crevasse moraine firn ablation accumulation calving terminus meltwater moulin "
        "serac icefall albedo surge bedrock till cirque snowline icecore",
        "core survey map drill probe monitor measure model",
        "retreating surging temperate polar debris grounded",
    ),
    "arranging": (
        "score voicing articulation dynamics tempo phrasing cadence modulation counterpoint harmony "
        "timbre section divisi transposition range doubling ostinato bowing breath rehearsal cue",
        "voice arrange transpose double conduct rehearse cue balance",
        "legato staccato muted dense sparse lyrical",
    ),
    "archaeology": (
        "excavation trench stratigraphy context sherd artifact assemblage sieve flotation radiocarbon "
        "midden feature posthole survey trowel provenance typology conservation finds backfill",
        "excavate record sieve date catalog photograph conserve backfill",
        "intrusive sealed disturbed prehistoric stratified waterlogged",
    ),
    "roasting": (
        "roast bean chaff crack development drum airflow charge roastlog cupping extraction grind "
        "crema espresso dose yield tamp channeling burr degassing",
        "roast cup grind dose dial tamp pull degas",
        "underdeveloped baked bright bitter light dark",
    ),
    "glassblowing": (
        "gather punty blowpipe marver gaffer gloryhole annealer frit cane murrine parison jacks "
        "crucible furnace devitrification striae cullet batch viscosity lampwork",
        "gather marver blow shape anneal pull case punty",
        "molten stressed cracked clear opaque cased",
    ),
    "agronomy": (
        "soil horizon texture loam tilth compaction nitrogen phosphorus potassium covercrop rotation "
        "irrigation drainage erosion mulch compost tillage salinity microbe yield",
        "till amend irrigate sample rotate fertilize mulch drain",
        "sandy clayey saline acidic compacted fertile",
    ),
}

# Decoys read like ordinary software and science skills: close enough to real packs (caches,
# tests, training, statistics) to compete for the same queries, far enough to be wrong answers.
_DECOY_THEMES: dict[str, str] = {
    "caching": "cache eviction ttl hitrate invalidation warmup stampede key shard replica memory latency "
    "backend miss proxy cdn header",
    "validation": "schema field constraint record column null type validator payload contract error dataset "
    "row format encoding range duplicate outlier checksum",
    "observability": "log metric trace span dashboard alert threshold sampling label cardinality retention "
    "collector exporter agent incident panel",
    "statistics": "sample variance mean median distribution hypothesis pvalue confidence interval regression "
    "residual bootstrap prior posterior likelihood estimator bias power effect",
    "labwork": "experiment protocol control replicate reagent assay instrument calibration notebook batch "
    "specimen measurement uncertainty blank standard dilution incubation plate readout",
    "numerics": "solver matrix iteration convergence tolerance precision step grid mesh residual jacobian "
    "eigenvalue integrator stability overflow rounding preconditioner sparse",
    "builds": "pipeline build artifact runner cache job stage matrix dependency lockfile release tag branch "
    "merge check flake timeout container image registry",
    "apis": "endpoint resource request response status pagination cursor header token version schema client "
    "quota retry idempotency webhook payload gateway",
    "concurrency": "thread lock mutex queue worker deadlock race future task scheduler pool channel atomic "
    "semaphore backpressure timeout cancellation executor",
    "profiling": "heap allocation profiler flamegraph hotspot latency throughput buffer copy leak garbage "
    "collector arena page benchmark regression footprint vectorization",
    "textproc": "token parser grammar regex encoding unicode normalization lexer corpus stemming index search "
    "query ranking document snippet tokenizer delimiter template",
    "jobs": "cron job queue retry backoff deadline worker batch window priority lease heartbeat trigger "
    "calendar quota slot failure timezone",
    "configuration": "config setting environment variable secret default override profile flag feature "
    "rollout template file key value drift inventory host",
    "geodata": "coordinate projection raster tile polygon geometry index buffer distance layer feature bbox "
    "elevation grid point resolution",
    "signals": "signal filter sample frequency spectrum window noise fourier convolution kernel aliasing "
    "decimation gain phase bandwidth amplitude envelope detector",
    "timeseries": "series timestamp window lag seasonality trend forecast anomaly resampling interpolation "
    "gap rollup aggregate horizon baseline drift smoothing changepoint",
    "imaging": "image pixel channel mask kernel filter histogram threshold segmentation contour resize "
    "interpolation noise color palette tile compression edge patch",
    "packaging": "package version dependency lockfile wheel registry release constraint resolver conflict "
    "vendor build metadata entrypoint extra mirror checksum signature",
    "databases": "table index query transaction migration schema column join plan lock replica backup "
    "snapshot constraint row cursor connection pool vacuum partition",
    "surveys": "survey respondent questionnaire item scale sample weighting response bias coding interview "
    "panel wave attrition consent codebook variable imputation",
}
_DECOY_VERBS = "tune measure validate profile configure debug migrate compare inspect reproduce monitor refactor"
_DECOY_ADJS = "slow flaky stale noisy inconsistent unstable missing oversized partial corrupted"

def _words(text: str) -> list[str]:
    return text.split()


_QUALIFIERS = _words(
    "field applied coastal alpine urban rural marine desert arctic tropical studio workshop heritage "
    "modern classical industrial portable advanced practical research community municipal amateur "
    "professional small large remote seasonal winter summer northern southern island valley highland "
    "lowland river harbor village campus museum archive expedition competition commercial restoration"
)
_DECOY_QUALIFIERS = _words(
    "core service platform batch stream edge legacy cloud embedded mobile web desktop lab team shared "
    "internal open hosted local regional global nightly realtime offline"
)
# Skill names end in a skill facet, sheet stems in a sheet facet: the two never collide.
_SKILL_FACETS = _words(
    "basics fundamentals diagnostics troubleshooting planning tuning calibration inspection maintenance "
    "recovery patterns safety measurement scheduling records review testing design sizing budgeting "
    "logistics quality repair assessment monitoring sampling handling storage setup strategy"
)
_SHEET_FACETS = _words(
    "guide reference pitfalls checklist glossary notes examples walkthrough primer cheatsheet casebook "
    "heuristics procedures tables faq handbook drills limits"
)
_GENERIC = _words(
    "threshold baseline checklist logbook schedule tolerance budget estimate reading record sample "
    "limit margin trend rule handoff inventory sequence procedure allowance"
)

# Templates never put "a" before a slot: the word that fills it may start with a vowel.
_SENTENCES = [
    "Before you {v} the {n}, write down the {g} you expect, so a surprise stands out.",
    "Any {a} {N} usually means the {g} was fixed before anyone looked at the {n}.",
    "Most trouble with the {N} starts one step earlier, at the {n}.",
    "Keep one {g} for every {n} and compare it with the last {h} you trust.",
    "If the {N} looks {a}, {v} it again with a smaller {g} before changing anything else.",
    "Crews that {v} the {n} in a hurry tend to miss the {a} {N}.",
    "The {q} approach treats the {N} as a budget that every {n} spends a little of.",
    "Do not {v} the {n} and adjust the {N} in the same pass, because the effects blur together.",
    "Record who changed the {N}, when they did it, and which {g} the change was meant to fix.",
    "A second look at the {n} is cheap, while a wrong {g} is expensive.",
    "When two readings of the {n} disagree, trust the one with the longer {g}.",
    "Start with the {N}, move on to the {n}, and leave the {m} for last.",
    "Write the {g} as a number rather than a word like {a}.",
    "The {N} that passes today can still fail after the next change to the {n}.",
    "The usual fix is dull but reliable: {v} the {n}, wait, and check the {g} again.",
    "Experienced people {v} the {N} first because it hides the most cost.",
    "Treat any {a} {n} as a symptom, not as the cause.",
    "The {q} rule of thumb allows one {n} per {g}, and breaking it needs a written reason.",
    "Compare the {N} against a known good {n} before you blame the {g}.",
    "If nobody owns the {g}, the {N} drifts until it turns into an emergency.",
    "Small and frequent checks of the {N} beat one large review at the end.",
    "Label the {n} clearly so the next person can {v} it without guessing.",
    "Any {a} {m} rarely fixes itself, so book a time to {v} it.",
    "Take the {g} from the previous {n} as a starting point and adjust from there.",
    "The {N} and the {n} interact, so moving one moves the other.",
    "Ask what changed since the last good {g}; the answer is usually the {n}.",
    "Plan the {N} around the {g} rather than around the calendar.",
    "Check the {n} with the {q} gauge, since the cheaper one tends to read {a}.",
    "The helper {c} keeps the {g} for each {n} in one place.",
    "Store the result in {c} so the {N} review can find it later.",
    "Nothing about the {N} is urgent until the {g} says so.",
    "Expect about {k} passes before the {n} settles.",
    "The {m} matters less than people think, and the {N} matters more.",
    "If you can only afford one check, {v} the {N}.",
    "One {a} result after {k} tries points at the {n}, not at the method.",
    "Leave a note in the {g} whenever you {v} the {m}.",
    "The {q} variant of the {N} trades speed for a tighter {g}.",
    "Newcomers often {v} the {n} twice and the {N} not at all.",
    "Agree on the {g} before work starts, or every {n} becomes a debate.",
    "The cheapest improvement is to {v} the {N} earlier in the day.",
    "Numbers from {c} are only as good as the {n} that produced them.",
    "Repeat the {g} check after any {a} event near the {n}.",
]
_BULLETS = [
    "{V} the {n} before touching the {N}",
    "Keep the {g} within {k} percent of the {h}",
    "Note every {a} {n} in the {g}",
    "Compare the {N} with the {q} {h}",
    "Never {v} the {m} without a second person",
    "Check {c} after each pass",
    "Write the {N} {g} down before and after",
    "Stop and {v} the {n} if the {g} moves by more than {k}",
]
_HEADINGS = [
    "Reading the {N}", "Why the {N} Goes {A}", "{N} in Practice", "A Checklist for the {N}",
    "Common {N} Mistakes", "Working With the {n}", "Measuring the {g}", "When the {n} Disagrees",
    "The {Q} Method", "Step {k}: {V} the {N}", "Before You {V} the {n}", "Limits of the {g}",
    "Keeping the {N} {A}", "{n} and {m}", "Worked Example", "Quick Checks", "What Goes Wrong",
    "Signals Worth Watching", "Recovering the {A} {N}", "Planning the {g}",
]
_SYMPTOMS = [
    "{N} looks {a} after we {v} the {n}", "Why is my {N} {a}?", "The {n} keeps failing the {g}",
    "How do I {v} the {N} safely?", "{N} readings drift between passes", "Not sure when to {v} the {N}",
    "Our {g} for the {N} is always wrong", "{N} and {n} disagree", "Need the right {g} for the {N}",
    "{A} {N} with the {q} {n}",
]
_SITUATIONS = [
    "the {N} looks {a}", "you need to {v} the {n}", "the {g} for the {N} keeps slipping",
    "planning how to {v} the {n} in {q} conditions", "someone asks why the {n} is {a}",
    "the {q} {N} needs its {g} checked", "someone has to {v} the {N} again",
]
# Users rarely use the author's phrase: queries reuse the domain words, never the sentences.
_QUERIES = [
    "my {N} went {a} and I think the {n} is to blame, where do I start",
    "what is the right {g} for {N} {facet} with the {q} {n}",
    "help me {v} the {N} without wrecking the {n}",
    "{N} {facet} for the {q} {theme} job, the {n} keeps misbehaving",
    "how should I handle {facet} of the {N} when the {q} {n} is {a}",
]

@functools.cache
def _needs(tpl: str) -> frozenset[str]:
    """The slot names a template uses."""
    return frozenset(f for _, f, _, _ in string.Formatter().parse(tpl) if f)


_ALL_SLOTS = frozenset(_words("N n m v V a A g h q Q c k facet theme"))
_SENTENCES_NEED = [(t, _needs(t)) for t in _SENTENCES]
assert all(_needs(t) <= _ALL_SLOTS for t in _SENTENCES + _BULLETS + _SYMPTOMS + _SITUATIONS + _QUERIES)
_POOL = 48
_FRESH = 0.2
_NGENERIC = len(_GENERIC)
_NSENTENCES = len(_SENTENCES)

_ONSETS = _words("b d f g k l m n p r s t v z br dr gr kl pr st tr th sk")
_VOWELS = _words("a e i o u ai ei ou")
_CODAS = ["", "", "", "n", "r", "l", "s", "x", "th", "nd", "rk"]


# --------------------------------------------------------------------------------------------
# Plan: every name, heading and defect is decided first, so any file can point at real targets.


@dataclass(slots=True)
class _Theme:
    key: str
    nouns: list[str]
    verbs: list[str]
    adjs: list[str]


@dataclass(slots=True)
class _Sheet:
    stem: str
    title: str
    headings: list[str]  # section headings in order (the title is the first H1)
    slugs: list[str]
    front_matter: bool
    orphan: bool = False


@dataclass(slots=True)
class _Skill:
    name: str
    folder: Path  # relative to the tree root
    plugin: _Plugin | None
    focus: str
    facet: str
    words: list[str]  # domain words this skill is about, focus first
    coined: str
    theme: _Theme
    sheets: list[_Sheet] = field(default_factory=list)
    is_router: bool = False
    defect: str | None = None

    @property
    def id(self) -> str:
        return f"{self.plugin.name}/{self.name}" if self.plugin else self.name


@dataclass(slots=True)
class _Plugin:
    name: str
    topic: str  # plugin name without the prefix
    theme: _Theme
    qualifier: str
    nouns: list[str]
    coined: list[str]
    index: int
    router: _Skill | None = None
    skills: list[_Skill] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


class _Names:
    """Names unique across the whole tree, so bare references never become ambiguous."""

    def __init__(self) -> None:
        self.taken: dict[str, None] = {}

    def claim(self, *candidates: str) -> str:
        for c in candidates:
            if c not in self.taken:
                self.taken[c] = None
                return c
        base = candidates[-1]
        n = 2
        while f"{base}-{n}" in self.taken:
            n += 1
        name = f"{base}-{n}"
        self.taken[name] = None
        return name


def _coin(rng: random.Random, used: dict[str, None]) -> str:
    """An invented jargon word (an instrument, a method) unique in the tree."""
    while True:
        w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
        w += rng.choice(_CODAS)
        if w not in used and len(w) <= 12:
            used[w] = None
            return w


def _slug(text: str) -> str:
    """GitHub's anchor for a heading (same rule as skill_lsp.slugs, repeated to stay stdlib-only)."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _title(words: str) -> str:
    small = {"the", "a", "an", "of", "and", "to", "in", "with", "for", "on"}
    out = []
    for i, w in enumerate(words.split(" ")):
        out.append(w if (i and w in small) else w[:1].upper() + w[1:])
    return " ".join(out)


def _plugin_sizes(rng: random.Random, total: int) -> list[int]:
    """Plugin sizes of about ten (router included) that add up to `total` exactly."""
    sizes: list[int] = []
    left = total
    while left > 0:
        s = rng.randint(8, 12)
        if left - s < 3:  # never leave a stub of one or two skills behind
            s = left if left <= 14 else left - 8
        sizes.append(s)
        left -= s
    return sizes


class _Planner:
    def __init__(self, skills: int, seed: int, defect_rate: float, prefix: str, decoy: bool) -> None:
        self.rng = random.Random(f"gentree:{seed}:{prefix}:{int(decoy)}")
        self.total = skills
        self.defect_rate = defect_rate
        self.prefix = prefix
        self.decoy = decoy
        self.names = _Names()
        # Invented words must not be real words of the vocabulary.
        self.coined: dict[str, None] = dict.fromkeys(_SKILL_FACETS + _SHEET_FACETS + _QUALIFIERS + _GENERIC)
        for nouns, verbs, adjs in _THEMES.values():
            self.coined.update(dict.fromkeys((nouns + " " + verbs + " " + adjs).split()))
        for nouns in _DECOY_THEMES.values():
            self.coined.update(dict.fromkeys(nouns.split()))
        if decoy:
            verbs, adjs = _DECOY_VERBS.split(), _DECOY_ADJS.split()
            self.themes = [_Theme(k, v.split(), verbs, adjs) for k, v in _DECOY_THEMES.items()]
            self.qualifiers = _DECOY_QUALIFIERS
        else:
            self.themes = [_Theme(k, *(s.split() for s in v)) for k, v in _THEMES.items()]
            self.qualifiers = _QUALIFIERS
        self.plugins: list[_Plugin] = []
        self.loose: list[_Skill] = []  # plugin-less skills (decoy mode)
        # A plugin-less skill still draws its words from a theme: this stands in for its pack.
        self.loose_context: dict[str, _Plugin] = {}
        self.top: _Plugin | None = None

    def plan(self) -> None:
        rng = self.rng
        total = self.total
        if self.decoy:
            # About a quarter of decoys are plugin-less skills in skills/, the rest in decoy packs.
            loose = total // 4 if total >= 8 else total
            for _ in range(loose):
                self.loose.append(self._loose_skill())
            total -= loose
        elif total >= 3:
            total -= 1  # the top router
        if total > 0:
            for i, size in enumerate(_plugin_sizes(rng, total)):
                self.plugins.append(self._plugin(i, size))
        if not self.decoy and self.total >= 3:
            self._top_router()
        self._defects()

    def _loose_skill(self) -> _Skill:
        rng = self.rng
        theme = rng.choice(self.themes)
        focus = rng.choice(theme.nouns)
        facet = rng.choice(_SKILL_FACETS)
        name = self.names.claim(f"{self.prefix}-{focus}-{facet}")
        words = [focus] + rng.sample(theme.nouns, 4)
        skill = _Skill(name, Path("skills") / name, None, focus, facet, words, _coin(rng, self.coined), theme)
        context = _Plugin("", theme.key, theme, rng.choice(self.qualifiers), words, [skill.coined], -1)
        self._sheets(skill, context)
        self.loose_context[name] = context
        return skill

    def _plugin(self, index: int, size: int) -> _Plugin:
        rng = self.rng
        theme = self.themes[index % len(self.themes)] if index < len(self.themes) else rng.choice(self.themes)
        qualifier = rng.choice(self.qualifiers)
        topic = self.names.claim(f"{theme.key}-{qualifier}", f"{theme.key}-{rng.choice(self.qualifiers)}",
                                 f"{theme.key}-{_coin(rng, self.coined)}")
        self.names.taken[f"{self.prefix}-{topic}"] = None
        nouns = rng.sample(theme.nouns, min(len(theme.nouns), 14))
        coined = [_coin(rng, self.coined) for _ in range(4)]
        plugin = _Plugin(f"{self.prefix}-{topic}", topic, theme, qualifier, nouns, coined, index)
        base = Path("plugins") / plugin.name / "skills"
        router_name = self.names.claim(f"using-{topic}")
        router = _Skill(router_name, base / router_name, plugin, nouns[0], "routing", nouns[:5], coined[0],
                        theme, is_router=True)
        self._sheets(router, plugin)
        plugin.router = router
        for j in range(size - 1):
            focus = nouns[(j + 1) % len(nouns)] if j + 1 < len(nouns) else rng.choice(nouns)
            facet = rng.choice(_SKILL_FACETS)
            name = self.names.claim(f"{focus}-{facet}", f"{qualifier}-{focus}-{facet}",
                                    f"{focus}-{rng.choice(_SKILL_FACETS)}", f"{qualifier}-{focus}-{facet}")
            others = [w for w in nouns if w != focus]
            words = [focus] + rng.sample(others, 3)
            skill = _Skill(name, base / name, plugin, focus, facet, words, rng.choice(coined), theme)
            self._sheets(skill, plugin)
            plugin.skills.append(skill)
        if rng.random() < 0.45:
            for verb in rng.sample(theme.verbs, rng.randint(1, 2)):
                plugin.commands.append(self.names.claim(f"{topic}-{verb}"))
        return plugin

    def _sheets(self, skill: _Skill, plugin: _Plugin) -> None:
        rng = self.rng
        count = rng.choices((2, 3, 4, 5), weights=(3, 4, 2, 1))[0]
        stems: dict[str, None] = {}
        pool = skill.words + plugin.nouns
        while len(stems) < count:
            stems[f"{rng.choice(pool)}-{rng.choice(_SHEET_FACETS)}"] = None
        for stem in stems:
            skill.sheets.append(self._sheet(stem, skill, rng.random() < 0.3))

    def _sheet(self, stem: str, skill: _Skill, front_matter: bool) -> _Sheet:
        rng = self.rng
        noun, facet = stem.split("-", 1)
        title = _title(f"{noun} {facet}")
        headings: list[str] = []
        seen: dict[str, None] = {_slug(title): None}
        for _ in range(rng.randint(3, 7)):
            h = _fill_heading(rng, skill)
            if _slug(h) not in seen:
                seen[_slug(h)] = None
                headings.append(h)
        return _Sheet(stem, title, headings, [_slug(h) for h in headings], front_matter)

    def _top_router(self) -> None:
        theme = _Theme("index", ["pack", "router", "index"], ["find", "choose", "load"], ["right", "best"])
        topic = self.names.claim("skill-index", "meta-index")
        top = _Plugin(f"{self.prefix}-{topic}", topic, theme, "general", ["pack", "router"], [], -1)
        self.names.taken[top.name] = None
        name = self.names.claim(f"using-{self.prefix}-packs")
        top.router = _Skill(name, Path("plugins") / top.name / "skills" / name, top, "pack", "routing",
                            ["pack"], "", theme, is_router=True)
        self.top = top

    def _defects(self) -> None:
        rng = self.rng
        victims = [s for p in self.plugins for s in p.skills] + self.loose
        for skill in victims:
            if rng.random() < self.defect_rate:
                kind = rng.choice(DEFECT_KINDS)
                if kind == "dead_route" and (skill.plugin is None or skill.plugin.router is None):
                    kind = "broken_link"
                skill.defect = kind
                if kind == "orphan_sheet":
                    taken = {s.stem for s in skill.sheets}
                    stem = f"{skill.focus}-{rng.choice(_SHEET_FACETS)}"
                    while stem in taken:
                        stem = f"{rng.choice(skill.words)}-{rng.choice(_SHEET_FACETS)}"
                    sheet = self._sheet(stem, skill, False)
                    sheet.orphan = True
                    skill.sheets.append(sheet)


def _fill_heading(rng: random.Random, skill: _Skill) -> str:
    th = skill.theme
    return _title(
        rng.choice(_HEADINGS).format(
            N=skill.focus, n=rng.choice(skill.words), m=rng.choice(skill.words), g=rng.choice(_GENERIC),
            Q=(skill.coined or "plain").capitalize(), k=rng.randint(1, 6), V=rng.choice(th.verbs).capitalize(),
            A=rng.choice(th.adjs).capitalize(),
        )
    )


# --------------------------------------------------------------------------------------------
# Text


class _Writer:
    """Sentences, paragraphs, lists and code for one skill, drawn from its words."""

    def __init__(self, rng: random.Random, skill: _Skill, theme: _Theme, plugin_nouns: list[str], coined: list[str]):
        self.rng = rng
        self.skill = skill
        self.theme = theme
        self.nouns = plugin_nouns
        self.coined = coined or [skill.coined or "plain"]
        self.words = skill.words
        self.pool: list[str] = []

    def _slots(self, need: frozenset[str] = _ALL_SLOTS) -> dict[str, object]:
        """Values for the slots a template uses (this is the generator's inner loop).

        Indexing with random() rather than rng.choice: as deterministic, a fifth of the cost."""
        r = self.rng.random
        d: dict[str, object] = {"N": self.skill.focus}
        nouns = self.nouns
        if "n" in need:
            words = self.words
            d["n"] = words[int(r() * len(words))] if r() < 0.6 else nouns[int(r() * len(nouns))]
        if "m" in need:
            d["m"] = nouns[int(r() * len(nouns))]
        if "v" in need or "V" in need:
            verbs = self.theme.verbs
            v = verbs[int(r() * len(verbs))]
            d["v"], d["V"] = v, v.capitalize()
        if "a" in need or "A" in need:
            adjs = self.theme.adjs
            a = adjs[int(r() * len(adjs))]
            d["a"], d["A"] = a, a.capitalize()
        if "g" in need:
            d["g"] = _GENERIC[int(r() * _NGENERIC)]
        if "h" in need:
            d["h"] = _GENERIC[int(r() * _NGENERIC)]
        if "q" in need or "Q" in need:
            coined = self.coined
            q = coined[int(r() * len(coined))]
            d["q"], d["Q"] = q, q.capitalize()
        if "c" in need:
            noun = nouns[int(r() * len(nouns))]
            if r() < 0.5:
                d["c"] = f"`{noun}_{_GENERIC[int(r() * _NGENERIC)]}`"
            else:
                verbs = self.theme.verbs
                d["c"] = f"`{verbs[int(r() * len(verbs))]}_{noun}()`"
        if "k" in need:
            d["k"] = 2 + int(r() * 8)
        if "facet" in need:
            d["facet"] = self.skill.facet
        if "theme" in need:
            d["theme"] = self.theme.key
        return d

    def fresh(self) -> str:
        tpl, need = _SENTENCES_NEED[int(self.rng.random() * _NSENTENCES)]
        s = tpl.format(**self._slots(need))
        return s[0].upper() + s[1:]

    def sentence(self) -> str:
        r = self.rng.random()
        if r < _FRESH:
            return self.fresh()
        if not self.pool:
            # Most sentences are drawn again from a small pool per skill (authors repeat
            # themselves within a skill); this halves the cost of a 10,000-skill tree.
            self.pool = [self.fresh() for _ in range(_POOL)]
        return self.pool[int((r - _FRESH) / (1.0 - _FRESH) * _POOL)]

    def paragraph(self, lo: int = 3, hi: int = 6) -> str:
        return " ".join([self.sentence() for _ in range(self.rng.randint(lo, hi))])

    def bullets(self, lo: int = 3, hi: int = 6) -> str:
        rng = self.rng
        out = []
        for _ in range(rng.randint(lo, hi)):
            tpl = rng.choice(_BULLETS)
            b = tpl.format(**self._slots(_needs(tpl)))
            out.append(f"- {b[0].upper()}{b[1:]}")
        return "\n".join(out)

    def fill(self, tpl: str) -> str:
        s = tpl.format(**self._slots(_needs(tpl)))
        return s[0].upper() + s[1:]

    def symptom(self, focus: str | None = None) -> str:
        slots = self._slots()
        if focus:
            slots["N"] = focus
        s = self.rng.choice(_SYMPTOMS).format(**slots)
        return s[0].upper() + s[1:]

    def table(self) -> str:
        rng = self.rng
        rows = ["| Signal | Likely cause | First check |", "|--------|--------------|-------------|"]
        for _ in range(rng.randint(3, 6)):
            s = self._slots()
            rows.append(f"| {s['A']} {s['n']} | {s['g']} too {rng.choice(('low', 'high', 'loose', 'tight'))} | "
                        f"{s['V']} the {s['m']} |")
        return "\n".join(rows)

    def code(self) -> str:
        """A fenced block with fake code; backticks inside it must not be read as code spans."""
        s = self._slots()
        n, g, v, a, m = s["n"], s["g"], s["v"], s["a"], s["m"]
        kind = self.rng.randrange(7)
        if kind == 0:
            body = (f"```python\ndef {v}_{n}(readings, {g}_limit={s['k']}):\n"
                    f"    \"\"\"Return the `{n}` readings above the `{g}` limit.\"\"\"\n"
                    f"    kept = [r for r in readings if r > {g}_limit]\n"
                    f"    return sorted(kept)  # `{a}` values first\n```")
        elif kind == 1:
            body = (f"```bash\n# {v} every {n} log and keep the newest one\n"
                    f"latest=`ls -t {n}_logs | head -n 1`\n"
                    f"grep -c \"{a}\" \"$latest\" > {g}.count\n```")
        elif kind == 2:
            body = (f"```yaml\n{n}:\n  {g}: {s['k']}\n  note: \"{v} the `{m}` before each pass\"\n"
                    f"  flags: [{a}, checked]\n```")
        elif kind == 3:
            body = (f"```rust\nfn {v}_{n}(x: f64) -> f64 {{\n    // `{m}` drifts, so clamp it\n"
                    f"    x.clamp(0.0, {s['k']}.0)\n}}\n```")
        elif kind == 4:
            body = (f"```toml\n[{n}]\n{g} = {s['k']}\nmode = \"{a}\"\n# see `{m}` notes\n```")
        elif kind == 5:
            body = (f"```json\n{{\"{n}\": {{\"{g}\": {s['k']}, \"state\": \"{a}\", "
                    f"\"note\": \"`{m}` first\"}}}}\n```")
        else:
            # A Markdown example holding its own fence: the outer fence is longer, as it must be.
            body = (f"````markdown\n## {_title(v + ' the ' + n)}\n\nRun `{v}_{n}()` first.\n\n"
                    f"```bash\necho \"`date` {n} {g}\"\n```\n````")
        return body


def _yaml_safe(text: str) -> str:
    # Plain scalars break on ": " and " #"; the vocabulary has neither, but keep the rule explicit.
    return text.replace(": ", ", ").replace(" #", " ")


class _Renderer:
    def __init__(self, planner: _Planner, stats: TreeStats, seed: int) -> None:
        self.p = planner
        self.stats = stats
        self.seed = seed
        self.root: Path = Path(".")
        self.all_skills = [s for pl in planner.plugins for s in pl.skills]

    # --- output ---------------------------------------------------------------------------
    def write(self, rel: Path, text: str) -> None:
        data = text.encode("utf-8")
        path = self.root / rel
        with open(path, "wb") as fh:
            fh.write(data)
        self.stats.files += 1
        self.stats.bytes += len(data)

    def defect(self, kind: str, rel: Path, detail: str) -> None:
        self.stats.defects[kind] += 1
        self.stats.injected.append(InjectedDefect(kind, rel.as_posix(), detail))

    # --- whole tree -----------------------------------------------------------------------
    def run(self, root: Path) -> None:
        self.root = root
        p = self.p
        plugins = list(p.plugins) + ([p.top] if p.top else [])
        dirs: list[Path] = []
        for pl in plugins:
            dirs.append(Path("plugins") / pl.name / ".claude-plugin")
            if pl.commands:
                dirs.append(Path("plugins") / pl.name / "commands")
            for s in ([pl.router] if pl.router else []) + pl.skills:
                dirs.append(s.folder)
        for s in p.loose:
            dirs.append(s.folder)
        if plugins:
            dirs.append(Path(".claude-plugin"))
        for d in dirs:
            os.makedirs(root / d, exist_ok=True)
        if plugins:
            self.marketplace(plugins)
        for pl in p.plugins:
            rng = random.Random(f"gentree:{self.seed}:{p.prefix}:{int(p.decoy)}:{pl.index}")
            self.plugin(pl, rng)
        for i, s in enumerate(p.loose):
            rng = random.Random(f"gentree:{self.seed}:{p.prefix}:loose:{i}")
            self.skill(s, p.loose_context[s.name], rng)
        if p.top:
            rng = random.Random(f"gentree:{self.seed}:{p.prefix}:top")
            self.top_router(p.top, rng)

    def marketplace(self, plugins: list[_Plugin]) -> None:
        doc = {
            "name": f"{self.p.prefix}-marketplace",
            "owner": {"name": f"{self.p.prefix} generator"},
            "metadata": {"description": "Generated skill packs for benchmarks", "version": "1.0.0"},
            "plugins": [
                {"name": pl.name, "source": f"./plugins/{pl.name}", "description": self.plugin_description(pl),
                 "keywords": pl.topic.split("-")}
                for pl in plugins
            ],
        }
        self.write(Path(".claude-plugin") / "marketplace.json", json.dumps(doc, indent=2) + "\n")

    def plugin_description(self, pl: _Plugin) -> str:
        if pl.index < 0:
            return "Top router: finds the right pack for a task"
        words = ", ".join(pl.nouns[:5])
        return f"{_title(pl.qualifier)} {pl.theme.key}: {words} - {len(pl.skills) + 1} skills"

    def plugin(self, pl: _Plugin, rng: random.Random) -> None:
        self.stats.plugins += 1
        meta = {"name": pl.name, "version": f"{1 + pl.index % 3}.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
                "description": self.plugin_description(pl)}
        self.write(Path("plugins") / pl.name / ".claude-plugin" / "plugin.json", json.dumps(meta, indent=2) + "\n")
        if pl.router:
            self.router(pl, rng)
        for s in pl.skills:
            self.skill(s, pl, rng)
        for cmd in pl.commands:
            self.command(cmd, pl, rng)

    # --- descriptions -------------------------------------------------------------------------
    def description(self, s: _Skill, w: _Writer) -> tuple[str, str | None]:
        """(front matter description line value, defect kind if one was injected here)."""
        rng = w.rng
        sits = [w.fill(t) for t in rng.sample(_SITUATIONS, 3)]
        sits = [x[0].lower() + x[1:] for x in sits]
        extra = f"{s.words[1]}, {s.words[2]}" if len(s.words) > 2 else s.words[0]
        cover = f"Covers {s.focus} {s.facet}, {s.coined} {extra} and {rng.choice(_GENERIC)} work."
        if s.defect == "yaml_colon":
            return f"Use when the {s.focus} looks {rng.choice(w.theme.adjs)}: {sits[1]}. {cover}", "yaml_colon"
        if s.defect == "missing_use_when":
            return _yaml_safe(f"Guidance on {s.focus} {s.facet}, for times when {sits[0]}. {cover}"), "missing_use_when"
        return _yaml_safe(f"Use when {sits[0]}, {sits[1]} or {sits[2]}. {cover}"), None

    def front_matter(self, s: _Skill, desc: str, rng: random.Random) -> str:
        name = s.name
        if s.defect == "name_mismatch":
            name = f"{s.focus}-{s.facet}-guide" if s.name != f"{s.focus}-{s.facet}-guide" else f"{s.name}-x"
        lines = ["---", f"name: {name}", f"description: {desc}"]
        r = rng.random()
        if r < 0.15:
            lines.append("license: MIT")
        elif r < 0.25:
            lines.append("allowed-tools: Read, Grep, Glob")
        elif r < 0.32:
            lines += ["metadata:", f"  version: \"1.{rng.randint(0, 9)}\"", f"  owner: {s.coined or 'index'} team"]
        lines.append("---")
        return "\n".join(lines) + "\n"

    # --- skills -------------------------------------------------------------------------------
    def skill(self, s: _Skill, pl: _Plugin, rng: random.Random) -> None:
        w = _Writer(rng, s, pl.theme, pl.nouns, pl.coined)
        rel = s.folder / "SKILL.md"
        desc, kind = self.description(s, w)
        if kind:
            self.defect(kind, rel, f"{s.id}: {kind}")
        if s.defect == "name_mismatch":
            self.defect("name_mismatch", rel, f"{s.id}: front matter name differs from folder")
        out = [self.front_matter(s, desc, rng), f"# {_title(s.name.removeprefix(self.p.prefix + '-').replace('-', ' '))}\n", w.paragraph(2, 4), ""]
        out += ["## When to Use\n", self.when_bullets(w, s), ""]
        linked = [sh for sh in s.sheets if not sh.orphan]
        out += ["## Reference Sheets\n", "Every sheet below sits in the same folder as this file.\n"]
        for sh in linked:
            out.append(f"- [{sh.stem}.md]({sh.stem}.md): {w.sentence()}")
        out.append("")
        # Sections up to the word target: prose, lists, code, anchors into sheets.
        target = rng.randint(300, 900)
        words = sum(len(x.split()) for x in out)
        headings: dict[str, None] = {"when-to-use": None, "reference-sheets": None}
        section_slugs: list[str] = []
        sections: list[str] = []
        extras = self.skill_extras(s, pl, w, linked, rel)
        while words < target or not sections:
            h = _fill_heading(rng, s)
            while _slug(h) in headings:
                h = f"{h} {len(headings)}"
            headings[_slug(h)] = None
            section_slugs.append(_slug(h))
            block = [f"## {h}\n", w.paragraph()]
            r = rng.random()
            if r < 0.3:
                block += ["", w.code()]
            elif r < 0.5:
                block += ["", w.bullets()]
            elif r < 0.6:
                block += ["", w.table()]
            if extras:
                block += ["", extras.pop()]
            block += ["", w.paragraph(2, 4), ""]
            text = "\n".join(block)
            words += len(text.split())
            sections.append(text)
        if len(sections) > 1 and rng.random() < 0.3:  # an anchor into this same file
            sections.append(f"Back to [the start of the method](#{rng.choice(section_slugs)}).\n")
        out += sections + extras
        self.write(rel, "\n".join(out).rstrip() + "\n")
        self.stats.skills += 1
        for sh in s.sheets:
            self.sheet(sh, s, w, rng)
        self.query(s, w)

    def when_bullets(self, w: _Writer, s: _Skill) -> str:
        out = []
        for _ in range(w.rng.randint(3, 6)):
            slots = w._slots()
            out.append(f"- **{slots['A']} {slots['n']}**: {w.fill(w.rng.choice(_SITUATIONS))}")
        return "\n".join(out)

    def skill_extras(self, s: _Skill, pl: _Plugin, w: _Writer, linked: list[_Sheet], rel: Path) -> list[str]:
        """Lines with references: anchors, cross-pack names, slash commands and injected link defects."""
        rng = w.rng
        out: list[str] = []
        if linked:
            sh = rng.choice(linked)
            if sh.headings:
                i = rng.randrange(len(sh.headings))
                out.append(f"The details are under [{sh.headings[i]}]({sh.stem}.md#{sh.slugs[i]}).")
        if self.all_skills and rng.random() < 0.3:
            other = rng.choice(self.all_skills)
            if other.plugin is not None and other.plugin is not s.plugin:
                if rng.random() < 0.5:
                    out.append(f"For the {other.focus} side of this, see {other.plugin.name}:{other.name}.")
                else:
                    out.append(f"Related work on the {other.focus} lives in `{other.plugin.name}/{other.name}`.")
        if pl.commands and rng.random() < 0.4:
            out.append(f"Run /{rng.choice(pl.commands)} to {rng.choice(pl.theme.verbs)} the {s.focus} step by step.")
        if s.plugin is not None and pl.router is not None and rng.random() < 0.15:
            out.append(f"Not the right skill? Go back to `{pl.router.name}`.")
        if s.plugin is not None and len(pl.skills) > 1 and rng.random() < 0.2:
            mate = rng.choice([x for x in pl.skills if x is not s])
            out.append(f"Pair this with **{mate.name}** when the {mate.focus} is involved too.")
        if self.all_skills and rng.random() < 0.08:
            other = rng.choice(self.all_skills)
            linked_other = [x for x in other.sheets if not x.orphan]
            if other.plugin is not None and linked_other:
                sh = rng.choice(linked_other)
                out.append(f"The table in `{other.plugin.name}/{other.name}/{sh.stem}.md` is a good cross-check.")
        if s.defect == "broken_link" and linked:
            sh = rng.choice(linked)
            out.append(f"Keep [{sh.title}](skills/{sh.stem}.md) open while you work.")
            self.defect("broken_link", rel, f"skills/{sh.stem}.md (sheet is {sh.stem}.md)")
        if s.defect == "broken_anchor" and linked:
            sh = rng.choice(linked)
            bad = f"{sh.slugs[0] if sh.slugs else 'overview'}-{rng.choice(_GENERIC)}s"
            out.append(f"See [the notes]({sh.stem}.md#{bad}) before you start.")
            self.defect("broken_anchor", rel, f"{sh.stem}.md#{bad}")
        if s.defect == "orphan_sheet":
            orphan = next(sh for sh in s.sheets if sh.orphan)
            self.defect("orphan_sheet", s.folder / f"{orphan.stem}.md", f"{s.id}/{orphan.stem}.md is linked by nothing")
        rng.shuffle(out)
        return out

    def sheet(self, sh: _Sheet, s: _Skill, w: _Writer, rng: random.Random) -> None:
        out: list[str] = []
        if sh.front_matter:
            desc = _yaml_safe(f"Use when {w.fill(rng.choice(_SITUATIONS)).lower()}. {w.sentence()}")
            out += ["---", f"name: {sh.stem}", f"description: {desc}", "---", ""]
        out += [f"# {sh.title}\n", w.paragraph(2, 4), ""]
        target = int(rng.triangular(400, 1500, 650))
        words = 0
        siblings = [x for x in s.sheets if x is not sh and not x.orphan]
        for i, h in enumerate(sh.headings):
            block = [f"## {h}\n", w.paragraph()]
            r = rng.random()
            if r < 0.3:
                block += ["", w.code()]
            elif r < 0.5:
                block += ["", w.bullets()]
            elif r < 0.58:
                block += ["", w.table()]
            block += ["", w.paragraph(3, 6)]
            if rng.random() < 0.35:
                block += ["", f"### {_title(rng.choice(s.words) + ' ' + rng.choice(_GENERIC))} {i + 1}\n",
                          w.paragraph()]
            text = "\n".join(block) + "\n"
            words += len(text.split())
            out.append(text)
        # Headings alone rarely reach the target: more prose under the last section until it does.
        while words < target:
            p = w.paragraph(4, 7)
            words += len(p.split())
            out.append(p + "\n")
        if siblings and rng.random() < 0.4:
            o = rng.choice(siblings)
            out.append(f"Continue with [{o.title}]({o.stem}.md), or return to [the skill](SKILL.md).\n")
        self.write(s.folder / f"{sh.stem}.md", "\n".join(out).rstrip() + "\n")
        self.stats.sheets += 1

    def query(self, s: _Skill, w: _Writer) -> None:
        if s.is_router:
            return
        q = w.fill(w.rng.choice(_QUERIES))
        self.stats.queries.append(RouteQuery(q, s.id))

    # --- routers ------------------------------------------------------------------------------
    def router(self, pl: _Plugin, rng: random.Random) -> None:
        r = pl.router
        assert r is not None
        w = _Writer(rng, r, pl.theme, pl.nouns, pl.coined)
        rel = r.folder / "SKILL.md"
        names = [s.name for s in pl.skills]
        listed = ", ".join(names[:3])
        desc = _yaml_safe(
            f"Use when working on {pl.theme.key} in {pl.qualifier} settings ({', '.join(pl.nouns[:4])}). "
            f"Routes to {listed} and {max(0, len(names) - 3)} more skills."
        )
        self.stats.routers += 1
        out = [self.front_matter(r, desc, rng), f"# {_title(pl.qualifier)} {_title(pl.theme.key)} Router\n",
               w.paragraph(2, 3), ""]
        out += ["## When to Use\n", self.when_bullets(w, r), ""]
        out += [f"This is the entry point of the {pl.name} pack: it names {len(names)} skills and "
                f"{len(r.sheets)} reference sheets.\n"]
        out += ["## Quick Routing\n", "| Symptom | Route to |", "|---------|----------|"]
        rows: list[str] = []
        for s in pl.skills:
            for _ in range(rng.choice((1, 1, 2))):
                style = rng.randrange(3)
                target = s.name if style == 0 else (f"**{s.name}**" if style == 1 else f"`{s.name}`")
                rows.append(f"| \"{w.symptom(s.focus)}\" | {target} |")
            if s.defect == "dead_route":
                dead = self.near_miss(s.name)
                rows.append(f"| \"{w.symptom(s.focus)}\" | {dead} |")
                self.defect("dead_route", rel, f"{dead} (meant {s.name})")
        if self.all_skills and rng.random() < 0.5:
            other = rng.choice(self.all_skills)
            if other.plugin is not pl and other.plugin is not None:
                rows.append(f"| \"{w.symptom(other.focus)}\" | `{other.plugin.name}/{other.name}` |")
        rng.shuffle(rows)
        out += rows + [""]
        if pl.skills and rng.random() < 0.5:
            a, b = rng.choice(pl.skills), rng.choice(pl.skills)
            out += ["## Decision Tree\n", "```text", "Which part misbehaves?",
                    f"├─ the {a.focus} → {a.name}", f"└─ the {b.focus} → {b.name}", "```", ""]
        for k, sh in enumerate(r.sheets, start=1):
            out += [f"### Step {k}: {sh.title}\n", "**Symptoms:**\n", w.bullets(2, 4), "",
                    f"**Route to:** [{sh.stem}.md]({sh.stem}.md)\n", w.paragraph(1, 3), ""]
        others = [o for o in self.p.plugins if o is not pl and o.skills]
        if others:
            out += ["## Related Packs\n"]
            for _ in range(rng.randint(1, 3)):
                other = rng.choice(rng.choice(others).skills)
                out.append(f"- {_title(other.focus)} {other.facet} → {other.plugin.name}/{other.name}")
            out.append("")
        self.write(rel, "\n".join(out).rstrip() + "\n")
        for sh in r.sheets:
            self.sheet(sh, r, w, rng)
        self.stats.skills += 1

    def near_miss(self, name: str) -> str:
        """A misspelt name (one letter dropped) that is nobody's name."""
        taken = self.p.names.taken
        for i in range(len(name) - 2, 0, -1):
            cand = name[:i] + name[i + 1:]
            if name[i] != "-" and cand not in taken and "--" not in cand and not cand.endswith("-"):
                return cand
        return name + "x"

    def top_router(self, top: _Plugin, rng: random.Random) -> None:
        r = top.router
        assert r is not None
        self.stats.plugins += 1
        meta = {"name": top.name, "version": "1.0.0", "description": self.plugin_description(top)}
        self.write(Path("plugins") / top.name / ".claude-plugin" / "plugin.json", json.dumps(meta, indent=2) + "\n")
        rel = r.folder / "SKILL.md"
        desc = "Use when you do not know which pack fits a task. Routes to the router of every pack."
        out = [self.front_matter(r, desc, rng), "# Pack Index\n",
               "Start here when a task could belong to several packs. Each row names the router of one "
               "pack; load that router and let it choose the skill.\n",
               "## When to Use\n", "- **Unsure which pack applies**: the task mixes several domains",
               "- **New to this marketplace**: you want the list of packs", "",
               "## Routing\n", "| Symptom | Route to |", "|---------|----------|"]
        for pl in self.p.plugins:
            if pl.router is None:
                continue
            w = _Writer(rng, pl.router, pl.theme, pl.nouns, pl.coined)
            style = rng.randrange(3)
            target = f"{pl.name}/{pl.router.name}"
            target = target if style == 0 else (f"**{target}**" if style == 1 else f"`{target}`")
            phrase = f"{_title(pl.theme.key)} work, {pl.qualifier}: {', '.join(pl.nouns[:3])}"
            if rng.random() < 0.5:
                phrase = w.symptom(pl.nouns[0])
            out.append(f"| \"{phrase}\" | {target} |")
        self.write(rel, "\n".join(out).rstrip() + "\n")
        self.stats.skills += 1
        self.stats.routers += 1

    def command(self, cmd: str, pl: _Plugin, rng: random.Random) -> None:
        assert pl.router is not None
        w = _Writer(rng, pl.router, pl.theme, pl.nouns, pl.coined)
        verb = cmd.rsplit("-", 1)[-1]
        out = ["---", f"description: {_yaml_safe(w.sentence())}", f"argument-hint: \"[{rng.choice(pl.nouns)} name]\"",
               "allowed-tools: [\"Read\", \"Grep\", \"Glob\"]", "---", "",
               f"# {_title(verb)} Command\n", w.paragraph(2, 4), "",
               "## Steps\n", w.bullets(3, 5), "",
               f"Start from the `{pl.router.name}` skill when the request is vague.\n"]
        self.write(Path("plugins") / pl.name / "commands" / f"{cmd}.md", "\n".join(out))
        self.stats.commands += 1


def generate(
    out: Path, skills: int, seed: int = 0, defect_rate: float = 0.03, prefix: str = "gen", decoy: bool = False
) -> TreeStats:
    """Write a tree of `skills` skills (routers included) under `out`, which must be new or empty."""
    out = Path(out)
    if skills < 1:
        raise ValueError("skills must be at least 1")
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", prefix):
        raise ValueError(f"prefix must be kebab-case: {prefix!r}")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    planner = _Planner(skills, seed, defect_rate, prefix, decoy)
    planner.plan()
    stats = TreeStats(root=str(out), seed=seed, decoy=decoy)
    _Renderer(planner, stats, seed).run(out)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="new or empty folder to write the tree into")
    ap.add_argument("--skills", type=int, required=True, help="number of skills (routers included)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--decoy", action="store_true", help="generic software/science decoys, for routing evaluation")
    ap.add_argument("--prefix", default=None, help="plugin name prefix (default: gen, or decoy with --decoy)")
    ap.add_argument("--defect-rate", type=float, default=None,
                    help="share of skills given one injected defect (default 0.03, or 0 with --decoy)")
    ap.add_argument("--queries", type=Path, help="write routing queries as JSON lines {query, expected, id}")
    ap.add_argument("--manifest", type=Path, help="write the full stats with every injected defect as JSON")
    args = ap.parse_args(argv)
    prefix = args.prefix or ("decoy" if args.decoy else "gen")
    rate = args.defect_rate if args.defect_rate is not None else (0.0 if args.decoy else 0.03)
    t0 = time.perf_counter()
    stats = generate(args.out, args.skills, seed=args.seed, defect_rate=rate, prefix=prefix, decoy=args.decoy)
    elapsed = time.perf_counter() - t0
    if args.queries:
        with open(args.queries, "w", encoding="utf-8") as fh:
            for i, q in enumerate(stats.queries):
                fh.write(json.dumps({"query": q.query, "expected": q.expected, "id": f"gen-{i:05d}"}) + "\n")
    if args.manifest:
        args.manifest.write_text(json.dumps(asdict(stats), indent=1) + "\n", encoding="utf-8")
    summary = stats.summary()
    summary["seconds"] = round(elapsed, 2)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
