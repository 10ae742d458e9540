"""The classifier's vocabulary: the pydantic models of `config/categories.yaml`.

The caller parses the YAML and passes the dict to `Vocabulary.model_validate`; this module
reads no file. Terms are stored in their normalised form (simplified, half-width, lower
case), because that is the form they are matched against: a grid leader may write 路燈 or
ＫＴＶ in the YAML and it still matches.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nlp.normalize import normalize

__all__ = [
    "CATEGORY_CODES",
    "Category",
    "CategoryCode",
    "TermSet",
    "Thresholds",
    "UrgencyKind",
    "Vocabulary",
]

CategoryCode = Literal[
    "environment", "facility", "dispute", "safety", "security", "assistance", "consult"
]
CATEGORY_CODES: tuple[CategoryCode, ...] = get_args(CategoryCode)

# Bounded so that one typo (a weight of 100) can't silently dominate every decision.
Weight = Annotated[float, Field(gt=0, le=10)]


def _normalise_terms(terms: dict[str, float], field: str) -> dict[str, float]:
    out: dict[str, float] = {}
    origin: dict[str, str] = {}
    for raw, weight in terms.items():
        term = normalize(raw)
        if not term:
            msg = (
                f"{field}: term {raw!r} is empty after normalisation "
                "(emoji, @mentions and spaces are stripped from messages before matching)"
            )
            raise ValueError(msg)
        if term in out:
            msg = (
                f"{field}: {raw!r} and {origin[term]!r} are the same term after "
                f"normalisation ({term!r}); keep one"
            )
            raise ValueError(msg)
        out[term] = weight
        origin[term] = raw
    return out


class TermSet(BaseModel):
    """Weighted terms. `keywords` match whole jieba tokens (灯 does not fire inside 灯笼);
    `phrases` match anywhere in the normalised text (use them for multi-word expressions
    and for anything with punctuation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: dict[str, Weight] = Field(default_factory=dict)
    phrases: dict[str, Weight] = Field(default_factory=dict)

    @field_validator("keywords", "phrases")
    @classmethod
    def _normalised(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        return _normalise_terms(value, info.field_name or "terms")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.keywords and not self.phrases:
            msg = "needs at least one keyword or phrase"
            raise ValueError(msg)
        both = sorted(set(self.keywords) & set(self.phrases))
        if both:
            msg = f"{both} listed both as keyword and as phrase; keep one"
            raise ValueError(msg)
        return self

    def terms(self) -> dict[str, float]:
        return {**self.keywords, **self.phrases}


class Category(TermSet):
    """One request category: the evidence that a message is about it, and its deadlines."""

    name: Annotated[str, Field(min_length=1, max_length=20)]
    time_limit_hours: Annotated[int, Field(gt=0, le=24 * 90)]
    urgent_time_limit_hours: Annotated[int, Field(gt=0, le=24 * 90)]

    @model_validator(mode="after")
    def _urgent_sooner(self) -> Self:
        if self.urgent_time_limit_hours > self.time_limit_hours:
            msg = (
                f"urgent_time_limit_hours ({self.urgent_time_limit_hours}) must not exceed "
                f"time_limit_hours ({self.time_limit_hours})"
            )
            raise ValueError(msg)
        return self


class UrgencyKind(TermSet):
    """A kind of emergency (fire, crime, ...): its cues and the number to tell residents."""

    emergency_number: Annotated[str, Field(pattern=r"^[0-9]{3,5}$")]
    # Used as the request's category when the message has urgency cues but no category
    # term at all ("救命!快来人!").
    category: CategoryCode
    # clear: a danger happening now, told as such (the number to call, alerts); possible: a
    # danger that may be happening, told indirectly (an old neighbour unseen for days): the
    # leaders are asked privately to check, the group gets a caring question
    level: Literal["clear", "possible"] = "clear"


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _cap_above_topic(self) -> Self:
        if self.topic_cap < self.topic:
            msg = f"topic_cap ({self.topic_cap}) must be at least topic ({self.topic})"
            raise ValueError(msg)
        return self

    # request score = best category score + ask cues + best urgency score - no-ask cues
    request: Annotated[float, Field(gt=0, le=50)] = 2.0
    # a message needs at least this much category evidence to be a request, however
    # insistent its ask cues are ("能不能帮帮忙?" alone names no matter to file)
    topic: Annotated[float, Field(gt=0, le=50)] = 1.0
    # A category's score counts at most this much in the request score: a long notice that
    # names five hazards is no more a request than a short report naming one.
    topic_cap: Annotated[float, Field(gt=0, le=50)] = 4.0
    urgent: Annotated[float, Field(gt=0, le=50)] = 2.0
    # A no-ask cue this strong on its own says the matter is over or was never one ("有水了",
    # "没事了", "误报"): the learned layer may not make a request of the message.
    settled: Annotated[float, Field(gt=0, le=50)] = 3.0
    # When a message is urgent, this share of its urgency score counts as evidence for the
    # urgency kind's category (a fight in progress is security even in a family quarrel).
    emergency_evidence: Annotated[float, Field(ge=0, le=10)] = 0.0
    # Urgency cues of a message that is not urgent (a risk, the past, a notice) count at most
    # this much in the request score; an urgent message's count in full.
    hazard_cap: Annotated[float, Field(ge=0, le=50)] = 50.0
    # Booster (immediacy) score a message needs before its danger elements count toward
    # their urgency kind: 烟 or 血 alone is no alarm, 烟 with 快/还在/119 is.
    immediacy: Annotated[float, Field(gt=0, le=50)] = 0.5


class Vocabulary(BaseModel):
    """The whole of `categories.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_chars: Annotated[int, Field(ge=10, le=100_000)] = 500
    thresholds: Thresholds = Field(default_factory=Thresholds)
    categories: dict[CategoryCode, Category]
    ask: TermSet
    no_ask: TermSet
    # Thanks, acknowledgements, greetings, addressing the group (大家注意, 各位, 请大家):
    # nothing is wanted from the grid, but they don't say a danger is over, so unlike the
    # no-ask cues they are subtracted from the request score only ("大家注意 5栋着火了" is
    # an emergency).
    courtesy: TermSet | None = None
    # States that something is wrong, whatever the matter (坏了, 堵了, 漏, 没人管, 好几天):
    # they add to the request score like the ask cues, and never decide a category.
    problem: TermSet | None = None
    urgency: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], UrgencyKind]
    # Words that make an emergency more pressing (快, 赶紧, 救命); they add to the best
    # urgency kind's score only when that kind has a cue of its own, so 快递 or 赶紧交医保
    # never raise an alarm by themselves.
    urgency_boost: TermSet | None = None
    # Words that say a danger is not happening now: a risk (万一, 怕, 随时), the past
    # (昨天, 去年), hearsay. They are subtracted from the urgency score only: "河边没护栏
    # 怕小孩掉下去" is still a request, but not an emergency.
    calm: TermSet | None = None
    # Danger elements, by urgency kind: what the danger is made of (火/烟, 煤气/味, 血/晕/
    # 喘不上, 刀/砍, 塌/压着, 淹/灌, 困/出不去) rather than whole alarm wordings. They count
    # toward their kind only in combination: with an immediacy cue (the urgency boosters:
    # 快, 还在, 救命, 不得了, !) reaching `thresholds.immediacy`, with each other, or with a
    # cue of the kind (Classifier._urgency). So "楼道里全是烟 快下楼" is an alarm although no
    # listed alarm wording says so, and "烟" alone is none.
    danger: dict[str, TermSet] | None = None
    # "But" words (不过, 可是, 但是): the no-ask and courtesy cues before the last of them
    # don't count, because what follows is not settled: "谢谢 路灯修好了 不过隔壁那条街的灯
    # 也不亮" is a request. Their weights are not used.
    contrast: TermSet | None = None

    @field_validator("categories")
    @classmethod
    def _all_codes(cls, value: dict[CategoryCode, Category]) -> dict[CategoryCode, Category]:
        missing = [code for code in CATEGORY_CODES if code not in value]
        if missing:
            msg = f"every category code must be configured; missing: {', '.join(missing)}"
            raise ValueError(msg)
        return value

    @field_validator("urgency")
    @classmethod
    def _some_urgency(cls, value: dict[str, UrgencyKind]) -> dict[str, UrgencyKind]:
        if not value:
            msg = "at least one urgency kind is needed, or emergencies are never flagged"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _danger_of_known_kinds(self) -> Self:
        unknown = sorted(set(self.danger or {}) - set(self.urgency))
        if unknown:
            msg = (
                f"danger: {', '.join(unknown)} is not an urgency kind; "
                f"the kinds are {', '.join(self.urgency)}"
            )
            raise ValueError(msg)
        for kind, elements in (self.danger or {}).items():
            # A term that is both would count twice for the kind whenever it is immediate.
            twice = sorted(set(elements.terms()) & set(self.urgency[kind].terms()))
            if twice:
                msg = f"danger.{kind}: {twice} already listed in urgency.{kind}; keep one"
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _one_kind_per_term(self) -> Self:
        # The matcher finds a term either among the tokens or in the raw text, not both;
        # a term that is a keyword in one section and a phrase in another would silently
        # count for only one of them.
        keyword_in: dict[str, str] = {}
        phrase_in: dict[str, str] = {}
        for where, term_set in self._sections():
            for term in term_set.keywords:
                keyword_in.setdefault(term, where)
            for term in term_set.phrases:
                phrase_in.setdefault(term, where)
        clashes = sorted(set(keyword_in) & set(phrase_in))
        if clashes:
            details = "; ".join(
                f"{t!r} is a keyword in {keyword_in[t]} and a phrase in {phrase_in[t]}"
                for t in clashes
            )
            msg = f"a term must be a keyword everywhere or a phrase everywhere: {details}"
            raise ValueError(msg)
        return self

    def _sections(self) -> list[tuple[str, TermSet]]:
        out: list[tuple[str, TermSet]] = [
            (f"categories.{c}", s) for c, s in self.categories.items()
        ]
        out += [("ask", self.ask), ("no_ask", self.no_ask)]
        if self.courtesy is not None:
            out.append(("courtesy", self.courtesy))
        if self.problem is not None:
            out.append(("problem", self.problem))
        out += [(f"urgency.{k}", s) for k, s in self.urgency.items()]
        if self.urgency_boost is not None:
            out.append(("urgency_boost", self.urgency_boost))
        if self.calm is not None:
            out.append(("calm", self.calm))
        out += [(f"danger.{k}", s) for k, s in (self.danger or {}).items()]
        if self.contrast is not None:
            out.append(("contrast", self.contrast))
        return out

    def all_terms(self) -> set[str]:
        """Every configured term (keywords and phrases)."""
        return {term for _, s in self._sections() for term in s.terms()}

    def dictionary_words(self) -> set[str]:
        """The words the tokenizer must keep whole: keywords of two or more characters.

        Phrases are found in the text itself, so jieba needn't know them (and boosting them
        would only bend the cuts of the words around them); a single character is always
        a possible token, and boosting one would make jieba split the words it belongs to
        (路 out of 路灯)."""
        return {term for _, s in self._sections() for term in s.keywords if len(term) > 1}
