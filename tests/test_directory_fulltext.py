"""Full-text directory search (issue 24): tokens, safety on any input, the index kept in step, ranking, and a
reference per database over generated text with accents, stems, spellings, punctuation, phrases and exclusions."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest
from flask_migrate import downgrade, upgrade
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, inspect, select, text, update

from csrn.agencies.models import Agency
from csrn.directory import fulltext
from csrn.directory import operations as ops
from csrn.directory.fulltext import Term, tokenize
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from tests.conftest import NOW
from tests.directory_factories import build_service, make_service_factory, type_id


@pytest.fixture
def create_service(app):
    return make_service_factory(app)


def dialect() -> str:
    return db.session.get_bind().dialect.name


def found(q: str, **filters) -> list[int]:
    """Service ids the directory's search finds for a text, in its order."""
    return list(db.session.scalars(ops.search_query(ops.Filters(q=q, **filters), NOW)).unique().all())


def ids(q: str, **filters) -> set[int]:
    return {service.id for service in found(q, **filters)}


def agency(name: str, description: str = "") -> int:
    row = Agency(name=name, description=description, agency_type="victim_service_provider",
                 membership_status="member", created_at=NOW, updated_at=NOW)
    db.session.add(row)
    db.session.flush()
    return row.id


def service(agency_id: int, name: str = "", description: str = "", type_code: str = "case_management") -> int:
    made = build_service(agency_id, type_code, name=name, description=description)
    db.session.flush()
    return made.id


# ----- the user's text as tokens -------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "terms"), [
    ("legal aid", [Term(("legal",)), Term(("aid",), prefix=True)]),
    ('"legal aid" shelter', [Term(("legal", "aid")), Term(("shelter",), prefix=True)]),
    ('shelter "legal aid"', [Term(("shelter",)), Term(("legal", "aid"))]),  # closed by a quote: no prefix
    ('shelter "legal ai', [Term(("shelter",)), Term(("legal", "ai"), prefix=True)]),  # a phrase being typed
    ("care -shelter", [Term(("care",)), Term(("shelter",), excluded=True)]),
    ('care -"emergency beds"', [Term(("care",)), Term(("emergency", "beds"), excluded=True)]),
    ("trauma-informed care", [Term(("trauma", "informed")), Term(("care",), prefix=True)]),
    ("children's", [Term(("children", "s"), prefix=True)]),
    ("NEAR(a b) col:x AND OR NOT *", [Term(("NEAR",)), Term(("a",)), Term(("b",)), Term(("col", "x")),
                                      Term(("AND",)), Term(("OR",)), Term(("NOT",), prefix=True)]),
    ("care care", [Term(("care",), prefix=True)]),
    ("Cha\u0301vez", [Term(("Chávez",), prefix=True)]),  # composed first
    ("ＣＡＲＥ", [Term(("CARE",), prefix=True)]),  # full-width folded
    ("% _ ' -- * ^ \\ \x00 ( ) : \"\" -", []),
    ("", []),
])
def test_tokenize_keeps_words_phrases_and_exclusions_only(typed, terms):
    """Operators, stars, column filters and punctuation are never passed on; the last word typed is a prefix."""
    assert tokenize(typed) == terms


def test_tokenize_bounds_what_it_passes_on():
    """At most 16 terms, 12 words to a phrase, 64 characters to a word, from the first 1,000 characters."""
    assert len(tokenize(" ".join(f"w{n}" for n in range(100)))) == fulltext.MAX_TERMS
    assert len(tokenize('"' + " ".join(f"w{n}" for n in range(40)) + '"')[0].words) == fulltext.MAX_PHRASE
    assert tokenize("x" * 500)[0].words == ("x" * fulltext.MAX_WORD,)
    assert tokenize(" " * 1000 + "hidden") == []


@pytest.mark.parametrize(("word", "also"), [
    ("labour", "labor"), ("Labor", "labour"), ("neighbourhood", "neighborhood"), ("centre", "center"),
    ("centers", "centres"), ("organisation", "organization"), ("organizations", "organisations"),
    ("analysed", "analyzed"), ("counsellor", "counselor"), ("counselor", "counsellor"), ("travelled", "traveled"),
    ("programme", "program"), ("paediatric", "pediatric"), ("licence", "license"), ("defense", "defence"),
])
def test_spelling_variants_go_both_ways(word, also):
    assert also in fulltext.spelling_variants(word)


@pytest.mark.parametrize("word", ["filing", "selling", "feeling", "four", "for", "hour", "size", "citizen", "raise"])
def test_spelling_variants_leave_other_words_alone(word):
    """No rule turns a word into another real word ("filing" is not "filling", "four" not "for")."""
    assert fulltext.spelling_variants(word) == (word,)


QUOTED_FTS5 = re.compile(r'"[^"]*"')
QUOTED_TSQUERY = re.compile(r"'[^']*'")
hostile_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.lists(st.sampled_from([
        '"', "'", "*", "-", "+", "^", ":", "(", ")", "{", "}", "NEAR", "NEAR(", "col:", "AND", "OR", "NOT", "&",
        "|", "!", "<->", "<2>", ":*", ":A", "\\", "%", "_", "\x00", " ", "  ", "Chávez", "care", "ÉCOLE", "中文",
        "عربى", "🙂", "\u0301", "\u200b", "e\u0301", "x" * 70, "rowid", "service_fts", "'; DROP TABLE service; --",
    ]), max_size=40).map("".join),
)


@settings(max_examples=300, deadline=None, database=None)
@given(typed=hostile_text)
def test_the_query_strings_hold_only_quoted_words_and_our_operators(typed):
    """Whatever is typed, the MATCH string is double-quoted words joined by our operators, the tsquery string
    single-quoted words joined by ours: nothing of the user's text outside quotes, no quote inside one."""
    terms = tokenize(typed)
    for term in terms:
        assert all(word and all(unicodedata.category(c)[0] in "LNM" for c in word) for word in term.words)
    match = fulltext.fts5_query(terms)
    assert set(QUOTED_FTS5.sub("", match)) <= set("()* ANDORT")
    assert all(set(q[1:-1]) & set("\"'*:^") == set() for q in QUOTED_FTS5.findall(match))
    tsquery = fulltext.tsquery_text(terms)
    assert set(QUOTED_TSQUERY.sub("", tsquery)) <= set("()&|!<->:* ")
    assert all(set(q[1:-1]) & set("'\\") == set() for q in QUOTED_TSQUERY.findall(tsquery))


# ----- any input answers -----------------------------------------------------------------------------

def test_any_text_is_searched_without_error(ctx):
    """The search query runs for any text (with other filters too), and the HSDS API's condition alike."""
    service(agency("Chávez Legal Aid", "Counselling for adolescents"), "Night line", "Trauma-informed care")

    @settings(max_examples=150, deadline=None, database=None)
    @given(typed=hostile_text)
    def check(typed):
        found(typed)
        found(typed, language="es", community=True)
        match = fulltext.text_match(typed)
        if match is not None:
            db.session.scalars(select(Service.id).where(match.condition)).all()

    check()


def test_any_text_answers_200_on_the_search_page(login_as):
    """The real /directory/ page, whole and as the htmx fragment, answers 200 to any text."""
    client = login_as()

    @settings(max_examples=60, deadline=None, database=None)
    @given(typed=hostile_text)
    def check(typed):
        assert client.get("/directory/", query_string={"q": typed}).status_code == 200
        assert client.get("/directory/", query_string={"q": typed, "age": "minor"},
                          headers={"HX-Request": "true", "HX-Target": "results"}).status_code == 200

    check()


def test_a_text_without_words_finds_nothing(ctx):
    """Only punctuation or operators: nothing is found (not everything, as a wildcard would)."""
    service(agency("Plain Agency"), "Plain service")
    assert ids("%") == set() and ids('"" * -') == set()
    assert len(found("")) >= 1


# ----- what a person expects --------------------------------------------------------------------------

@pytest.fixture
def people(ctx):
    """A small directory with accents, both spellings, stems, punctuation."""
    made = {}
    made["chavez"] = service(agency("Casa Chávez", "Servicios en español."), "Asesoría legal")
    made["nguyen"] = service(agency("NGUYEN FAMILY SERVICES", "Vietnamese-speaking advocates."), "Family support")
    made["counselling"] = service(agency("Riverside Clinic"), "Counselling", "Individual counselling for adults.")
    made["counselor"] = service(agency("Lakeshore Center", "A counselor on call."), "Drop-in")
    made["labour"] = service(agency("Workers' Centre"), "Labour rights", "Help after labour trafficking.")
    made["organization"] = service(agency("Grassroots Organization"), "Outreach", "Street outreach at night.")
    made["trauma"] = service(agency("Harbor House"), "Night shelter", "Trauma-informed care; women's groups.")
    made["legal"] = service(agency("Valley Legal Aid"), "Vacatur", "Criminal record relief (vacatur, expungement).")
    return made


@pytest.mark.parametrize(("typed", "expected"), [
    ("Chavez", {"chavez"}), ("chávez", {"chavez"}), ("CHÁVEZ", {"chavez"}), ("espanol", {"chavez"}),
    ("Nguyễn", {"nguyen"}), ("nguyen", {"nguyen"}),
    ("counseling", {"counselling", "counselor"}), ("counselling", {"counselling", "counselor"}),
    ("counsellor", {"counselor"}),
    ("labor", {"labour"}), ("labor trafficking", {"labour"}), ("center", {"counselor", "labour"}),
    ("organisation", {"organization"}), ("organisations", {"organization"}),
    ("shelters", {"trauma"}), ("trafficked", {"labour"}),
    ("trauma-informed", {"trauma"}), ("trauma informed", {"trauma"}), ('"informed trauma"', set()),
    ("women's", {"trauma"}), ("womens", {"trauma"}), ("wom", {"trauma"}), ("workers", {"labour"}),
    ('"legal aid"', {"legal"}), ('"aid legal"', set()), ("legal", {"chavez", "legal"}), ("legal -vacatur", {"chavez"}),
    ("-legal", {"nguyen", "counselling", "counselor", "labour", "organization", "trauma"}),
    ('legal -"legal aid"', {"chavez"}),
    ("coun", {"counselling", "counselor"}), ("vacat", {"legal"}), ("Harb", {"trauma"}), ("harbour", {"trauma"}),
    ('"nigh', {"organization", "trauma"}), ('"street outr', {"organization"}), ("expunge", {"legal"}),
    ("NEAR legal", set()), ("legal*", {"chavez", "legal"}), ("{name}: legal", set()), ("legal OR zzz", set()),
])
def test_what_a_person_expects_to_find(people, typed, expected):
    """Accents, case, both spellings, stems, punctuation, phrases, exclusions and the last word as a prefix."""
    assert ids(typed) == {people[key] for key in expected}


def test_name_matches_come_first_then_relevance_then_the_usual_order(ctx):
    """A word in the service's or the agency's name ranks above one only in a description; among equals, the
    existing order (type, agency name, id)."""
    in_text = service(agency("Alpha Agency", "We run a shelter."), "Drop-in")
    in_agency = service(agency("Zulu Shelter"), "Beds")
    in_name = service(agency("Mike Agency"), "Shelter beds")
    twice = service(agency("Bravo Agency", "Shelter, shelter and more shelter."), "Other")
    order = [s.id for s in found("shelter")]
    assert set(order[:2]) == {in_agency, in_name}
    assert order.index(twice) < order.index(in_text)  # relevance: said three times
    same = [service(agency(f"{name} Agency"), "Same words") for name in ("Delta", "Charlie")]
    assert [s.id for s in found("same words")] == same[::-1]  # a tie: agency name order


def names_first(q: str) -> dict[int, int]:
    """name_first of each service the text matches, as the search ranks it."""
    found_rows = fulltext.text_match(q).matches()
    return dict(db.session.execute(select(found_rows.c.service_id, found_rows.c.name_first)).all())


def in_the_names(q: str) -> set[int]:
    """The services with every searched word in their own or their agency's name, asked of the index directly
    (a MATCH limited to the name columns; on PostgreSQL the names' weight A)."""
    terms = tokenize(q)
    if dialect() == "postgresql":
        return set(db.session.scalars(text(
            "SELECT service_id FROM service_search WHERE document @@ to_tsquery('csrn_search', :q)"),
            {"q": fulltext.tsquery_text(terms, "A", include_excluded=False)}))
    return set(db.session.scalars(text("SELECT rowid FROM service_fts WHERE service_fts MATCH :q"),
                                  {"q": fulltext.fts5_query(terms, "{service_name agency_name}")}))


@pytest.mark.parametrize(("q", "first_ones", "matching"), [
    ("counselling", {0, 2, 4}, {0, 1, 2, 3, 4}),  # both spellings, and the stem ("Counsel Shelter")
    ("coun", {0, 2, 4}, {0, 1, 2, 3, 4}),  # a prefix
    ("counselling -night", {2}, {1, 2, 3}),  # with a word excluded
    ('"legal aid"', {1}, {1, 2, 3}),  # a phrase
    ("shelter", {2, 4}, {1, 2, 3, 4}),
    ("counselling beds", {2, 4}, {0, 2, 3, 4}),  # two words: both must be in a name
    ("legal shelter", {2}, {1, 2, 3}),  # "Legal aid clinic" of "Quiet Agency": only one of them
])
def test_name_first_is_every_searched_word_in_a_name(ctx, q, first_ones, matching):
    """name_first is 0 exactly for the services with every searched word (any spelling, the last as a prefix) in
    their own or their agency's name, whether one word is searched (on SQLite, read off bm25 weighing the names
    only) or several (a second MATCH limited to the names)."""
    services = [
        service(agency("Harbor Counseling Center"), "Walk-in", "Beds for the night."),
        service(agency("Quiet Agency", "Counselling and a shelter."), "Legal aid clinic"),
        service(agency("Legal Shelter Project"), "Counselling beds", "Legal aid and counseling."),
        service(agency("North Agency", "Legal aid, shelter, counseling, beds."), "Drop-in"),
        service(agency("Counsel Shelter"), "Night beds", "Counseling."),
    ]
    first = {services.index(service_id): value for service_id, value in names_first(q).items()}
    assert set(first) == matching
    assert {n for n, value in first.items() if value == 0} == first_ones
    assert {services.index(service_id) for service_id in in_the_names(q)} & matching == first_ones


# ----- kept in step -----------------------------------------------------------------------------------

def index_in_step() -> bool:
    """Every service has exactly one index row, and it says what the service, agency and type say now."""
    if dialect() == "postgresql":
        stale = db.session.execute(text(
            "SELECT count(*) FROM service s JOIN agency a ON a.id = s.agency_id "
            "JOIN service_type t ON t.id = s.service_type_id FULL JOIN service_search x ON x.service_id = s.id "
            "WHERE x.document IS DISTINCT FROM "
            "csrn_service_document(s.name, a.name, t.name, s.description, a.description)")).scalar()
    else:
        stale = db.session.execute(text(
            "SELECT count(*) FROM (SELECT s.id, s.name, a.name, t.name, s.description, a.description FROM service s "
            "JOIN agency a ON a.id = s.agency_id JOIN service_type t ON t.id = s.service_type_id "
            "EXCEPT SELECT rowid, service_name, agency_name, type_name, service_description, agency_description "
            "FROM service_fts)")).scalar()
        stale += db.session.execute(text(
            "SELECT count(*) FROM service_fts WHERE rowid NOT IN (SELECT id FROM service)")).scalar()
    return stale == 0


def test_the_index_follows_every_insert_and_edit(ctx):
    """Services added (ORM and bulk INSERT, as an import does) and edited, agencies renamed and described, a type
    renamed, services and agencies deleted: the index follows each, whoever writes."""
    agency_id = agency("Oldname Agency", "Describes oldword")
    first = service(agency_id, "Firstname", "Firsttext")
    assert ids("oldname") == ids("oldword") == ids("firsttext") == {first} and index_in_step()

    row = db.session.get(Service, first)
    row.name, row.description = "Renamed", "Newtext"
    db.session.flush()
    assert ids("firstname") == set() and ids("renamed") == ids("newtext") == {first}

    db.session.get(Agency, agency_id).name = "Newname Agency"
    db.session.flush()
    assert ids("oldname") == set() and ids("newname") == {first}
    db.session.execute(update(Agency).where(Agency.id == agency_id).values(description="Plain SQL words"))
    assert ids("oldword") == set() and ids('"plain sql words"') == {first}

    kind = db.session.get(ServiceType, type_id("case_management"))
    kind.name = "Casework Zebra"
    db.session.flush()
    assert first in ids("zebra")

    db.session.execute(insert(Service), [dict(
        agency_id=agency_id, service_type_id=type_id("medical"), name=f"Imported {n}", description="From HSDS",
        status="active", created_at=NOW, updated_at=NOW) for n in range(3)])
    assert len(ids("imported hsds")) == 3 and index_in_step()
    db.session.execute(text("UPDATE service SET description = 'Hand written' WHERE name = 'Imported 0'"))
    assert len(ids('"hand written"')) == 1 and index_in_step()

    db.session.delete(db.session.get(Service, first))
    db.session.flush()
    assert ids("renamed") == set() and index_in_step()
    db.session.execute(text("DELETE FROM agency WHERE id = :id"), {"id": agency_id})
    assert ids("imported") == set() and index_in_step()


def test_capacity_updates_leave_the_index_alone(ctx):
    """Only the searched columns' changes touch the index (an open-slots update fires no reindex on SQLite)."""
    first = service(agency("Capacity Agency"), "Beds")
    db.session.execute(update(Service).where(Service.id == first).values(open_slots=4))
    assert ids("capacity") == {first} and index_in_step()


def test_every_trigger_is_there_at_the_head(ctx):
    """A later batch migration that rebuilt service, agency or service_type would drop its triggers: not so."""
    if dialect() == "postgresql":
        names = set(db.session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
        expected = {"service_search_service", "service_search_agency", "service_search_service_type"}
    else:
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        expected = {"service_fts_insert", "service_fts_update", "service_fts_delete", "agency_fts_update",
                    "service_type_fts_update"}
    assert expected <= names


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.mark.concurrency
def test_the_migration_indexes_the_services_already_there(committed_app, default_session_mode):
    """Down to 0033 (the index gone), services written, up again: they are found."""
    with committed_app.app_context():
        downgrade(revision="0033_hsds_import")
        with db.engine.connect() as conn:
            assert not set(inspect(conn).get_table_names()) & fulltext.SEARCH_INDEX_TABLES
        agency_id = agency("Prémigration Agency", "Existing rows")
        service(agency_id, "Before the index")
        db.session.commit()
        db.session.remove()
        upgrade()
        assert ids("premigration") and ids('"before the index"') and index_in_step()
        db.session.remove()


# ----- the reference per database ----------------------------------------------------------------------

# Written forms and the word each database's stemmer (with the accents gone, and the British and American
# spellings searched both ways) makes of them. Where the databases differ, the class names say so.
FORMS = {
    "chavez": ["Chávez", "Chavez", "CHÁVEZ", "chavez"],
    "jose": ["José", "Jose", "JOSÉ"],
    "nguyen": ["Nguyễn", "Nguyen"],
    "counsel": ["counselling", "counseling", "Counselling", "counsel"],
    "labor": ["labour", "labor", "Labour"],
    "organization": ["organisation", "organization", "Organisations"],
    "center": ["centre", "center", "Centres"],
    "shelter": ["shelter", "shelters", "sheltering"],
    "community": ["community", "communities"],
    "communal": ["communal"],
    "fair": ["fair"],
    "fairly": ["fairly"],
    "trauma": ["trauma"],
    "informed": ["informed"],
    "women": ["women"],
    "legal": ["legal"],
    "aid": ["aid"],
}
# Porter (SQLite) takes "communal" to "commun", as "community"; Snowball (PostgreSQL) keeps them apart and takes
# "fairly" to "fair", which Porter keeps apart.
SAME_ON = {"sqlite": {"communal": "community"}, "postgresql": {"fairly": "fair"}}
PUNCTUATION = [" ", " ", " ", ", ", ". ", " - ", "; ", " (", ") ", "/", " & "]


def world_text(rng: random.Random) -> list[tuple[str, str]]:
    """(written form, class) words, some joined by a hyphen or an apostrophe as one written word."""
    return [(rng.choice(FORMS[kind]), kind) for kind in rng.sample(sorted(FORMS), rng.randint(1, 4))]


def render(words: list[tuple[str, str]], rng: random.Random) -> str:
    out = ""
    for n, (form, _) in enumerate(words):
        out += (rng.choice(PUNCTUATION + ["-"]) if n else "") + form
    return out


def reference(world: dict, typed_terms: list[tuple[list[str], bool]], same: dict) -> set[int]:
    """Services whose fields hold every wanted class sequence (in one field) and none of the excluded ones."""
    def key(kind):
        return same.get(kind, kind)

    def has(fields, classes):
        wanted = [key(c) for c in classes]
        return any([key(c) for c in field[i:i + len(wanted)]] == wanted
                   for field in fields for i in range(len(field) - len(wanted) + 1))

    return {sid for sid, fields in world.items()
            if all(has(fields, classes) != excluded for classes, excluded in typed_terms)}


def test_search_matches_the_reference_for_this_database(ctx):
    """A seeded random directory (accents, both spellings, stems, punctuation, hyphens) and 150 queries of quoted
    words, phrases and exclusions: each finds exactly what the reference for this database's stemmer says."""
    rng = random.Random(24)  # noqa: S311 - test data
    world = {}
    for _ in range(40):
        fields = [world_text(rng) for _ in range(4)]
        agency_id = agency(render(fields[0], rng), render(fields[1], rng))
        world[service(agency_id, render(fields[2], rng), render(fields[3], rng))] = [
            [kind for _, kind in field] for field in fields] + [["case", "management"]]
    same = SAME_ON[dialect()]
    checked = nonempty = 0
    for _ in range(150):
        terms = []
        for _ in range(rng.randint(1, 3)):
            fields = rng.choice(list(world.values()))[:4]
            field = rng.choice(fields)
            start = rng.randrange(len(field))
            classes = field[start:start + rng.choice((1, 1, 2))]
            terms.append((classes, rng.random() < 0.25))
        typed = " ".join(("-" if excluded else "") + '"' + " ".join(rng.choice(FORMS[c]) for c in classes) + '"'
                         for classes, excluded in terms)
        expected = reference(world, terms, same)
        assert ids(typed) == expected, typed
        checked += 1
        nonempty += bool(expected)
    assert nonempty > checked // 3


@pytest.mark.parametrize(("typed", "written", "sqlite", "postgresql"), [
    ("communal", "Community kitchen", True, False),
    ("fair", "Fairly priced", False, True),
    ("sky", "Open skies", False, True),
    ("dying", "For those who die alone", False, True),
])
def test_where_the_stemmers_differ(ctx, typed, written, sqlite, postgresql):
    """The README's list of where SQLite's Porter and PostgreSQL's Snowball stems differ, checked."""
    target = service(agency("Stemming Agency"), written)
    assert (target in ids(f'"{typed}"')) is {"sqlite": sqlite, "postgresql": postgresql}[dialect()]


def test_the_hsds_api_condition_filters_without_ranking(ctx):
    """text_match(q).condition is a plain WHERE on Service, for callers with their own order."""
    wanted = service(agency("Condition Agency"), "Legal clinic")
    service(agency("Other Agency"), "Dental")
    match = fulltext.text_match("legal clin")
    assert set(db.session.scalars(select(Service.id).where(match.condition))) == {wanted}
    assert db.session.scalar(select(func.count()).select_from(match.matches())) == 1
