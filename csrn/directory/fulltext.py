"""Full-text search over the directory: the user's text as tokens, and the query each database runs on its index.

The index (made by migration 0034 and kept in step by triggers in the database, so a form, an import or a bulk
INSERT all update it) holds, per service, the service's name and description, its agency's name and description
and its service type's name:

- SQLite: the FTS5 table `service_fts` (rowid = service id), tokenizer `porter unicode61 remove_diacritics 2`.
- PostgreSQL: `service_search (service_id, document tsvector)` with a GIN index; the text search configuration
  `csrn_search` removes accents (`unaccent`) and stems with Snowball English, without stop words (as SQLite).

The user's text never reaches MATCH or to_tsquery as typed: `tokenize` keeps only words (letters, digits and
combining marks), phrases in quotes and words excluded with a leading '-'; the query strings are then built from
those words, each quoted, and sent as bound parameters. Words written both ways in British and American English
(labour/labor, centre/center, organisation/organization, counsellor/counselor ...) are searched in both spellings.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import String, Subquery, bindparam, case, column, func, literal, literal_column, select, table, true
from sqlalchemy.sql.elements import ColumnElement

from csrn.directory.models import Service
from csrn.extensions import db

# What the migration makes for the index, which no model declares (autogenerate leaves them alone).
SEARCH_INDEX_TABLES = frozenset({
    "service_fts", "service_fts_data", "service_fts_idx", "service_fts_content", "service_fts_docsize",
    "service_fts_config", "service_search",
})
SEARCH_CONFIG = "csrn_search"

MAX_INPUT = 1000  # characters of the text looked at
MAX_TERMS = 16  # words or phrases
MAX_PHRASE = 12  # words in one phrase
MAX_WORD = 64  # characters in one word
MAX_VARIANTS = 4  # spellings of one word or phrase

QUOTES = frozenset('"“”„‟«»')
MINUS = frozenset("-−")
# Between two word characters these join one written word into a phrase ("trauma-informed", "children's", "a_b"),
# which is how both databases' tokenizers see such a word in the text they index.
JOINERS = frozenset("-‐‑'’._:/@&+")


def is_search_index(name: str | None) -> bool:
    """Whether a table belongs to the full-text index (for Alembic's include_object)."""
    return name in SEARCH_INDEX_TABLES


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: compare everything except the search index's tables."""
    return not (type_ == "table" and is_search_index(name))


# ----- the user's text as tokens ---------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    """One word or quoted phrase of the search text; `excluded` when written with a leading '-'."""

    words: tuple[str, ...]
    excluded: bool = False
    prefix: bool = False  # the last word as typed: matches any word it begins


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _has_letter_or_digit(word: str) -> bool:
    return any(unicodedata.category(char)[0] in "LN" for char in word)


def tokenize(text: str) -> list[Term]:
    """The words, phrases and exclusions of a search text; everything else (operators, punctuation) is dropped."""
    text = unicodedata.normalize("NFKC", (text or "")[:MAX_INPUT])
    terms: list[Term] = []
    phrase: list[str] | None = None  # inside quotes: the words so far
    phrase_excluded = False
    closed_last = False  # the last term was closed by a quote (no prefix matching then)
    length, i = len(text), 0
    while i < length:
        char = text[i]
        if char in QUOTES:
            if phrase is None:
                phrase, phrase_excluded = [], i > 0 and text[i - 1] in MINUS
            else:
                if phrase:
                    terms.append(Term(tuple(phrase[:MAX_PHRASE]), phrase_excluded))
                    closed_last = True
                phrase = None
            i += 1
            continue
        if not _is_word_char(char):
            i += 1
            continue
        excluded = phrase is None and i > 0 and text[i - 1] in MINUS
        words, start = [], i
        while True:
            while i < length and _is_word_char(text[i]):
                i += 1
            words.append(text[start:i][:MAX_WORD])
            if i + 1 < length and text[i] in JOINERS and _is_word_char(text[i + 1]):
                i += 1
                start = i
                continue
            break
        words = [word for word in words if _has_letter_or_digit(word)]
        if not words:
            continue
        if phrase is not None:
            phrase.extend(words)
        else:
            terms.append(Term(tuple(words[:MAX_PHRASE]), excluded))
            closed_last = False
    if phrase:  # a quote still open: the phrase being typed
        terms.append(Term(tuple(phrase[:MAX_PHRASE]), phrase_excluded))
        closed_last = False
    unique = list(dict.fromkeys(terms))[:MAX_TERMS]
    if unique and not unique[-1].excluded and not closed_last and unique[-1] == terms[-1]:
        unique[-1] = Term(unique[-1].words, prefix=True)
    return unique


# ----- British and American spellings -------------------------------------------------------------

# (British, American) beginnings of words; a word beginning with either is also searched with the other.
SPELLING_PAIRS = (
    ("labour", "labor"), ("colour", "color"), ("behaviour", "behavior"), ("neighbour", "neighbor"),
    ("favour", "favor"), ("honour", "honor"), ("harbour", "harbor"), ("rumour", "rumor"), ("humour", "humor"),
    ("endeavour", "endeavor"), ("saviour", "savior"), ("odour", "odor"), ("armour", "armor"),
    ("centre", "center"), ("theatre", "theater"), ("metre", "meter"), ("litre", "liter"), ("fibre", "fiber"),
    ("programme", "program"), ("licence", "license"), ("defence", "defense"), ("offence", "offense"),
    ("pretence", "pretense"), ("practise", "practice"), ("judgement", "judgment"), ("ageing", "aging"),
    ("catalogue", "catalog"), ("dialogue", "dialog"), ("analogue", "analog"), ("enrol", "enroll"),
    ("fulfil", "fulfill"), ("instalment", "installment"), ("skilful", "skillful"), ("wilful", "willful"),
    ("paediatric", "pediatric"), ("gynaecolog", "gynecolog"), ("haemat", "hemat"), ("haemo", "hemo"),
    ("anaem", "anem"), ("anaesth", "anesth"), ("orthopaed", "orthoped"), ("oestrogen", "estrogen"),
    ("oesophag", "esophag"), ("foetal", "fetal"), ("foetus", "fetus"), ("diarrhoea", "diarrhea"),
    ("leukaemia", "leukemia"), ("manoeuvre", "maneuver"), ("grey", "gray"), ("mould", "mold"),
    ("plough", "plow"), ("sceptic", "skeptic"), ("aluminium", "aluminum"), ("jewellery", "jewelry"),
    ("pyjama", "pajama"), ("cheque", "check"), ("tyre", "tire"), ("storey", "story"),
)
# Regular endings, both ways: -ise/-ize (organisation), -yse/-yze (analyse), -elled/-eled (counsellor).
SPELLING_RULES = (
    (re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations|er|ers)$"), r"\1iz\2"),
    (re.compile(r"^(\w{3,})iz(e|es|ed|ing|ation|ations|er|ers)$"), r"\1is\2"),
    (re.compile(r"^(\w{2,})ys(e|es|ed|ing|er|ers)$"), r"\1yz\2"),
    (re.compile(r"^(\w{2,})yz(e|es|ed|ing|er|ers)$"), r"\1ys\2"),
    (re.compile(r"^(\w*[aeiouy]\w*?)([ea])ll(ing|ed|er|ers|or|ors)$"), r"\1\2l\3"),
    (re.compile(r"^(\w*[aeiouy]\w*[^aeiouyl\W])([ea])l(ing|ed|er|ers|or|ors)$"), r"\1\2ll\3"),
)


def spelling_variants(word: str) -> tuple[str, ...]:
    """The word, and the same word in the other English spelling where one is known (at most MAX_VARIANTS)."""
    folded = word.casefold()
    found = [word]
    for british, american in SPELLING_PAIRS:
        if folded.startswith(british):
            found.append(american + folded[len(british):])
        elif folded.startswith(american):
            found.append(british + folded[len(american):])
    for pattern, replacement in SPELLING_RULES:
        if pattern.match(folded):
            found.append(pattern.sub(replacement, folded))
    return tuple(dict.fromkeys(found))[:MAX_VARIANTS]


def _phrase_variants(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each spelling of a phrase (the product of its words' spellings, at most MAX_VARIANTS)."""
    return list(itertools.islice(itertools.product(*(spelling_variants(word) for word in words)), MAX_VARIANTS))


# ----- the query strings ----------------------------------------------------------------------------

def fts5_query(terms: list[Term], columns: str = "") -> str:
    """An FTS5 MATCH string: every word double-quoted (no operator of the user's survives), terms ANDed,
    spellings ORed, exclusions NOTed; `columns` ("{a b}") limits the positive terms to those columns."""
    def alternatives(term: Term) -> str:
        options = []
        for words in _phrase_variants(term.words):
            quoted = '"' + " ".join(words) + '"'
            options.append(quoted)
            if term.prefix:
                options.append(quoted + "*")  # the exact word as well, so it ranks above longer ones
        return "(" + " OR ".join(options) + ")"

    positive = " AND ".join(alternatives(t) for t in terms if not t.excluded)
    negative = " OR ".join(alternatives(t) for t in terms if t.excluded)
    if columns:
        return f"{columns} : ({positive})" if positive else ""
    if positive and negative:
        return f"({positive}) NOT ({negative})"
    return positive or negative


def tsquery_text(terms: list[Term], weight: str = "", include_excluded: bool = True) -> str:
    """A to_tsquery string: every word single-quoted (letters, digits and marks only, so nothing to escape),
    phrases with <->, terms ANDed, spellings ORed, exclusions with !; `weight` ("A") limits words to that weight."""
    def lexeme(word: str, prefix: bool) -> str:
        flags = ("*" if prefix else "") + weight
        return f"'{word}'" + (f":{flags}" if flags else "")

    def alternatives(term: Term) -> str:
        options = []
        for words in _phrase_variants(term.words):
            last = len(words) - 1
            options.append(" <-> ".join(lexeme(w, term.prefix and n == last) for n, w in enumerate(words)))
            if term.prefix:
                options.append(" <-> ".join(lexeme(w, False) for w in words))
        return "(" + " | ".join(options) + ")"

    parts = [alternatives(t) for t in terms if not t.excluded]
    negative = [alternatives(t) for t in terms if t.excluded]
    if include_excluded and negative:
        parts.append("!(" + " | ".join(negative) + ")")
    return " & ".join(parts)


# ----- the condition and ranking --------------------------------------------------------------------

@dataclass(frozen=True)
class TextMatch:
    """What a search text matches: the words to look for on one database. `matches` gives the matching services
    with their order (name matches first, then relevance); `condition` only filters.

    The SQL depends only on the `shape` (the database, and whether the text has one searched word or phrase,
    several, or only exclusions); the words reach it as the named parameters `params()` gives. So a caller may
    build the statement once per shape (`ranked_shape`, as the directory's search does) and send the words each
    time."""

    terms: tuple[Term, ...]
    dialect: str

    @property
    def shape(self) -> tuple[str, str]:
        positive = sum(not term.excluded for term in self.terms)
        return self.dialect, ("excluding" if positive == 0 else "one" if positive == 1 else "several")

    def params(self) -> dict[str, str]:
        """The query strings of the words, by the names of the parameters the shape's SQL has."""
        terms, kind = list(self.terms), self.shape[1]
        if self.dialect == "postgresql":
            if kind == "excluding":
                return {"ts_excluded": " | ".join(tsquery_text([Term(t.words)]) for t in terms)}
            return {"ts_query": tsquery_text(terms), "ts_names": tsquery_text(terms, "A", include_excluded=False)}
        if kind == "excluding":
            return {"fts_excluded": fts5_query(terms)}
        found = {"fts_query": fts5_query(terms)}
        if kind == "several":
            found["fts_names"] = fts5_query(terms, "{service_name agency_name}")
        return found

    def matches(self, within=None) -> Subquery:
        """(service_id, name_first, rank) of the matching services, the words' values in it: name_first is 0 when
        every searched word is in the service's or the agency's name, rank ascends from the most relevant. `within`,
        a select of service ids, limits the work to those (SQLite then ranks only the services the other filters
        leave)."""
        dialect, kind = self.shape
        return shape_matches(dialect, kind, within).params(self.params())

    @property
    def condition(self) -> ColumnElement[bool]:
        """A WHERE condition on Service (for callers that do not rank)."""
        return Service.id.in_(select(self.matches().c.service_id))


def ranked_shape(shape: tuple[str, str], base, conditions):
    """`base` (a select from Service joined to what `conditions` name) limited to the services matching both a
    text of this shape and the conditions, and the order to put first; the words are the named parameters of
    `TextMatch.params`. On SQLite the index ranks only the services the conditions leave (`within`, one list built
    once), so the conditions are not asked again of the joined rows."""
    dialect, kind = shape
    within = base.with_only_columns(Service.id).where(*conditions).correlate(None)
    found = shape_matches(dialect, kind, within)
    query = base if dialect != "postgresql" else base.where(*conditions)
    return query.join(found, found.c.service_id == Service.id), (found.c.name_first, found.c.rank)


def shape_matches(dialect: str, kind: str, within=None) -> Subquery:
    """The matches subquery of a shape, its words the named parameters of `TextMatch.params`."""
    if dialect == "postgresql":
        return _postgresql_matches(kind)
    return _sqlite_matches(kind, within)


def _sqlite_matches(kind: str, within=None) -> Subquery:
    fts = table("service_fts", column("rowid"))
    match = literal_column("service_fts").op("MATCH")
    # The other filters' services as a list built once: FTS5 reads its matches once and ranks (bm25, about 2 µs a
    # row) only those in the list, instead of the filters running once for every match.
    # (`rowid + 0`: given `rowid IN`, FTS5 would run the whole MATCH once per listed id.)
    limit = ((fts.c.rowid + 0).in_(within),) if within is not None else ()
    if kind == "excluding":  # exclusions only: every service but those
        excluded = select(fts.c.rowid).where(match(bindparam("fts_excluded", type_=String))).correlate(None)
        return (select(fts.c.rowid.label("service_id"), literal(1).label("name_first"), literal(0.0).label("rank"))
                .where(fts.c.rowid.not_in(excluded), *limit).subquery("text_match"))
    # bm25: lower is better; names weigh most, then the type, the service's description, the agency's.
    rank = func.bm25(literal_column("service_fts"), 10.0, 8.0, 4.0, 2.0, 1.0)
    if kind == "one":
        # One word or phrase (its spellings ORed): in the names exactly when bm25 weighing only the names is not 0
        # (a phrase absent from every weighed column adds nothing). Asked of the matching rows only, where a second
        # MATCH limited to the names would read the whole index's list for the word again.
        in_names = func.bm25(literal_column("service_fts"), 1.0, 1.0, 0.0, 0.0, 0.0) < 0
    else:
        names = select(fts.c.rowid).where(match(bindparam("fts_names", type_=String))).correlate(None)
        in_names = fts.c.rowid.in_(names)
    return (select(fts.c.rowid.label("service_id"), case((in_names, 0), else_=1).label("name_first"),
                   rank.label("rank"))
            .where(match(bindparam("fts_query", type_=String)), *limit).subquery("text_match"))


def _postgresql_matches(kind: str) -> Subquery:
    index = table("service_search", column("service_id"), column("document"))
    config = literal_column(f"'{SEARCH_CONFIG}'::regconfig")
    if kind == "excluding":  # exclusions only: every service but those
        excluded = func.to_tsquery(config, bindparam("ts_excluded", type_=String))
        return (select(index.c.service_id, literal(1).label("name_first"), literal(0.0).label("rank"))
                .where(~index.c.document.op("@@")(excluded)).subquery("text_match"))
    query = func.to_tsquery(config, bindparam("ts_query", type_=String))
    names = func.to_tsquery(config, bindparam("ts_names", type_=String))
    # ts_rank: higher is better, so negated; weights D, C, B, A: agency description ... names.
    rank = -func.ts_rank(literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]"), index.c.document, query)
    return (select(index.c.service_id, case((index.c.document.op("@@")(names), 0), else_=1).label("name_first"),
                   rank.label("rank"))
            .where(index.c.document.op("@@")(query)).subquery("text_match"))


def text_match(text: str, dialect: str | None = None) -> TextMatch | None:
    """What a search text matches, or None when it has no words at all (then it matches nothing: see
    `matches_nothing`). `dialect` defaults to the session's database."""
    terms = tokenize(text)
    if not terms:
        return None
    return TextMatch(tuple(terms), dialect or db.session.get_bind().dialect.name)


def matches_nothing() -> ColumnElement[bool]:
    """The condition for a search text without a word in it (only punctuation or operators): no service."""
    return ~true()
