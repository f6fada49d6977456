"""Where a CSV file comes from, and what each of its columns means to us.

Known formats are the contact (person) and company (organization) exports of three CRMs,
as those tools write them. The column names follow each tool's export, where the header
is the field's label as its UI shows it:

- **HubSpot** (Contacts / Companies > Export, "Export your records" in HubSpot's knowledge
  base): ``Record ID`` first, then property labels: ``First Name``, ``Last Name``,
  ``Email``, ``Phone Number``, ``Mobile Phone Number``, ``Company Name``, ``Job Title``,
  ``Street Address``, ``Postal Code``, ``City``, ``Country/Region``, ``Create Date``,
  ``Contact owner`` (companies: ``Company name``, ``Company Domain Name``, ``Industry``,
  ``Company owner``). Dates ``2024-03-05 14:22`` in the account's time zone; phones as
  typed (``+49 30 1234567``); ``Additional email addresses`` separated by ``;``.
- **Pipedrive** (Contacts > People / Organizations > Export, "Exporting data" in
  Pipedrive's knowledge base): ``Entity - Field`` labels, one column per kind of a multi
  value (``Person - Name``, ``Person - Email - Work``, ``Person - Phone - Mobile``,
  ``Person - Organization``, ``Person - Label``, ``Person - Owner``, ``Person - Person
  created``; ``Organization - Name``, ``Organization - Address - City/town/village/
  locality``...). Dates ``2024-03-05 14:22:10``.
- **Insightly** (Contacts / Organizations > Export, "Exporting data" in Insightly's help
  center): labels ``First Name``, ``Last Name``, ``Email Address``, ``Business Phone``,
  ``Mobile Phone``, ``Title``, ``Organization Name``, ``Mailing Address Street`` / ``City``
  / ``Postal Code`` / ``Country``, ``Date Created``, ``Tags`` (organizations: ``Billing
  Address ...``, ``Email Domain``). Dates US style ``03/05/2024`` (month first), with
  ``02:15 PM`` when a time is written.

Where these come from: the issue names the headers and date styles; public scripts that
read real exports confirm Pipedrive's ``Person - Name``, ``Person - First name``,
``Person - Email - Work|Home|Other``, ``Person - Phone - Work|Mobile|Home``, ``Person -
Organization``, ``Person - Title``, ``Person - City``, and HubSpot's ``Associated
Company``, ``Contact owner``, ``Lifecycle Stage``, ``Street Address``, ``State/Region``,
``Company Domain Name``; HubSpot's help pages name ``Record ID`` and the ``[Object]
owner`` column; Insightly's labels are those of its export and import templates. Columns
that mean the opposite of a field (HubSpot's ``Unsubscribed``, Pipedrive's ``Person -
Marketing status``) are left unmapped rather than read as consent. The tests' sample files
(tests/imports/samples) are written with these headers.

Our own format (``helpdesk``) names the columns by our field names (loader docstring).
Any other file is ``custom``: its mapping is guessed here and confirmed on screen.
Times without a zone are taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache

import phonenumbers
from iso3166 import countries_by_alpha2

from helpdesk.imports.csvfile import Refused

KINDS = ("customers", "organizations")
SOURCES = ("helpdesk", "hubspot", "pipedrive", "insightly", "custom")
IGNORE = "ignore"
# What a column may be, per kind (besides "ignore" and "field.KEY" for custom fields).
TARGETS = {
    "customers": (
        "name first_name last_name email phone organization title key_person language "
        "preferred_channel tags order_updates email_marketing sms_marketing street "
        "house_number postcode city country "
        "created_at account_manager"
    ).split(),
    "organizations": (
        "name domain industry street house_number postcode city country created_at account_manager"
    ).split(),
}
# Our own format: the target names themselves (and "domains" for "domain").
OWN_ALIASES = {"domains": "domain"}
# Targets that take several values: cells are split, values of several columns added up.
LISTS = {"email", "phone", "tags", "domain"}
DATE_FORMATS = {
    "hubspot": ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"),
    "pipedrive": ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"),
    "insightly": ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y"),
    # Ours and anyone else's: ISO first (fromisoformat), then German and US styles.
    "helpdesk": ("%d.%m.%Y %H:%M", "%d.%m.%Y", "%m/%d/%Y"),
    "custom": ("%d.%m.%Y %H:%M", "%d.%m.%Y", "%m/%d/%Y"),
}

_HUBSPOT_ADDRESS = {
    "street address": "street",
    "postal code": "postcode",
    "zip": "postcode",
    "city": "city",
    "country/region": "country",
    "create date": "created_at",
    "record id": IGNORE,
    "state/region": IGNORE,
}
_PIPEDRIVE_ADDRESS = {
    "street/road name": "street",
    "house number": "house_number",
    "zip/postal code": "postcode",
    "city/town/village/locality": "city",
    "country": "country",
}
_INSIGHTLY_BASE = {
    "record id": IGNORE,
    "date created": "created_at",
    "record owner": "account_manager",
}
KNOWN: dict[tuple[str, str], dict[str, str]] = {
    ("hubspot", "customers"): {
        **_HUBSPOT_ADDRESS,
        "first name": "first_name",
        "last name": "last_name",
        "email": "email",
        "additional email addresses": "email",
        "phone number": "phone",
        "mobile phone number": "phone",
        "company name": "organization",
        "associated company": "organization",
        "job title": "title",
        "contact owner": "account_manager",
        "lifecycle stage": "tags",
    },
    ("hubspot", "organizations"): {
        **_HUBSPOT_ADDRESS,
        "company name": "name",
        "name": "name",
        "company domain name": "domain",
        "website url": "domain",
        "industry": "industry",
        "company owner": "account_manager",
        "phone number": IGNORE,
    },
    ("pipedrive", "customers"): {
        "person - id": IGNORE,
        "person - name": "name",
        "person - first name": "first_name",
        "person - last name": "last_name",
        "person - email": "email",
        "person - email - work": "email",
        "person - email - home": "email",
        "person - email - other": "email",
        "person - phone": "phone",
        "person - phone - work": "phone",
        "person - phone - mobile": "phone",
        "person - phone - home": "phone",
        "person - phone - other": "phone",
        "person - organization": "organization",
        "organization - name": "organization",
        "person - label": "tags",
        "person - job title": "title",
        "person - title": "title",
        "person - city": "city",
        "person - owner": "account_manager",
        "person - person created": "created_at",
        **{f"person - postal address - {k}": v for k, v in _PIPEDRIVE_ADDRESS.items()},
    },
    ("pipedrive", "organizations"): {
        "organization - id": IGNORE,
        "organization - name": "name",
        "organization - website": "domain",
        "organization - industry": "industry",
        "organization - owner": "account_manager",
        "organization - organization created": "created_at",
        "organization - label": IGNORE,
        **{f"organization - address - {k}": v for k, v in _PIPEDRIVE_ADDRESS.items()},
    },
    ("insightly", "customers"): {
        **_INSIGHTLY_BASE,
        "contact id": IGNORE,
        "salutation": IGNORE,
        "first name": "first_name",
        "last name": "last_name",
        "email address": "email",
        "business phone": "phone",
        "mobile phone": "phone",
        "home phone": "phone",
        "title": "title",
        "organization name": "organization",
        "mailing address street": "street",
        "mailing address city": "city",
        "mailing address state": IGNORE,
        "mailing address postal code": "postcode",
        "mailing address country": "country",
        "tags": "tags",
    },
    ("insightly", "organizations"): {
        **_INSIGHTLY_BASE,
        "organization id": IGNORE,
        "organization name": "name",
        "email domain": "domain",
        "website": "domain",
        "industry": "industry",
        "billing address street": "street",
        "billing address city": "city",
        "billing address state": IGNORE,
        "billing address postal code": "postcode",
        "billing address country": "country",
        "tags": IGNORE,
    },
}
# Column names people write for our fields, for guessing the mapping of any other file.
SYNONYMS = {
    "name": ("name", "full name", "fullname", "contact name", "contact", "kontakt"),
    "first_name": ("first name", "firstname", "given name", "vorname"),
    "last_name": ("last name", "lastname", "surname", "family name", "nachname"),
    "email": ("email", "e mail", "email address", "e mail adresse", "mail"),
    "phone": (
        "phone",
        "telephone",
        "telefon",
        "phone number",
        "mobile",
        "mobile phone",
        "handy",
        "tel",
        "telefonnummer",
    ),
    "organization": (
        "organization",
        "organisation",
        "company",
        "company name",
        "firma",
        "account",
        "account name",
        "unternehmen",
    ),
    "title": ("title", "job title", "position", "role", "funktion"),
    "street": ("street", "address", "street address", "strasse", "straße", "adresse"),
    "postcode": ("postcode", "postal code", "zip", "zip code", "plz", "postleitzahl"),
    "city": ("city", "town", "ort", "stadt"),
    "country": ("country", "land"),
    "tags": ("tags", "tag", "labels", "label"),
    "language": ("language", "sprache"),
    "created_at": ("created", "created at", "create date", "date created", "erstellt"),
    "domain": ("domain", "domains", "website", "web"),
    "industry": ("industry", "branche"),
}


def _key(name: str) -> str:
    """A column name compared without case or surrounding space."""
    return " ".join(name.lower().split())


def _own(kind: str, name: str) -> str | None:
    """What a column of our own format means, or None."""
    key = OWN_ALIASES.get(_key(name), _key(name))
    if key in TARGETS[kind] or (key.startswith("field.") and len(key) > 6):
        return key if not key.startswith("field.") else "field." + name.strip()[6:]
    return None


def detect(header: list[str], kind: str | None = None) -> tuple[str, str]:
    """``(source, kind)`` of a file with this header: our own format when every column is
    ours, else the known export that names most of its columns, else ``custom``."""
    names = [n for n in header if n]
    kinds = [kind] if kind else list(KINDS)
    for candidate in kinds:
        if all(_own(candidate, n) is not None for n in names):
            if kind is None and _is_organization_file(names):
                return "helpdesk", "organizations"
            return "helpdesk", candidate
    scores = []
    for (source, candidate), known in KNOWN.items():
        if candidate in kinds:
            hits = sum(_key(n) in known for n in names)
            scores.append((hits, source, candidate))
    scores.sort(reverse=True)
    if scores and scores[0][0] >= 2 and (len(scores) == 1 or scores[0][0] > scores[1][0]):
        return scores[0][1], scores[0][2]
    if scores and scores[0][0] >= 2 and len(scores) > 1:
        # A tie between one tool's contacts and its companies: people have an email column.
        tied = [s for s in scores if s[0] == scores[0][0]]
        if {s[1] for s in tied} == {tied[0][1]}:
            has_email = any("email" in _key(n) and "domain" not in _key(n) for n in names)
            return tied[0][1], "customers" if has_email else "organizations"
    return "custom", kind or ("organizations" if _is_organization_file(names) else "customers")


def _is_organization_file(names: list[str]) -> bool:
    """A file of organizations: domains or an industry, and no email or phone column."""
    keys = {_key(n) for n in names}
    return bool(keys & {"domain", "domains", "industry"}) and not keys & {"email", "phone"}


def mapping_for(source: str, kind: str, header: list[str], labels: dict[str, str]) -> dict:
    """{column: target} for every named column of the header: the known format's or ours,
    or (custom) a guess from the column names (``labels``: {custom field key: its label});
    ``ignore`` for what has no column of ours."""
    result = {}
    known = KNOWN.get((source, kind), {})
    fields = {_key(label): key for key, label in labels.items()}
    fields.update({_key(key): key for key in labels})
    for name in header:
        if not name:
            continue
        if source == "helpdesk":
            result[name] = _own(kind, name) or IGNORE
        elif source in ("hubspot", "pipedrive", "insightly"):
            result[name] = known.get(_key(name), IGNORE)
        else:
            result[name] = _guess(kind, name, fields)
    return result


def _guess(kind: str, name: str, fields: dict[str, str]) -> str:
    """Our field a column of an unknown file most likely holds, or ``ignore``."""
    key = _key(name)
    own = _own(kind, name)
    if own is not None:
        return own
    if key.removeprefix("field.") in fields:
        return "field." + fields[key.removeprefix("field.")]
    for (_, candidate), known in KNOWN.items():
        target = known.get(key)
        if candidate == kind and target and target != IGNORE:
            return target
    plain = " ".join(re.sub(r"[^a-zäöüß0-9]", " ", key).split())
    for target, phrases in SYNONYMS.items():
        if target in TARGETS[kind] and plain in phrases:
            return target
    return IGNORE


def check_mapping(kind: str, mapping: dict[str, str], field_keys: list[str]) -> dict[str, str]:
    """The problems of a mapping, by column: unknown targets, undefined custom fields."""
    problems = {}
    for column, target in mapping.items():
        if target == IGNORE or target in TARGETS[kind]:
            continue
        if target.startswith("field."):
            if target[6:] not in field_keys:
                problems[column] = f"no custom field {target[6:]!r} is defined"
            continue
        problems[column] = f"unknown target {target!r}"
    return problems


def split(target: str, value: str) -> list[str]:
    """The several values of one cell: ``;`` separates them (and ``,`` for emails, tags
    and domains, which contain none)."""
    pattern = r"[;,]" if target in ("email", "tags", "domain") else r";"
    return [part.strip() for part in re.split(pattern, value) if part.strip()]


def parse_time(source: str, value: str) -> datetime:
    """A created date as ``source`` writes it, in UTC; Refused when it is none."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in DATE_FORMATS.get(source, ()):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise Refused(f"created_at: not a date as {source} writes it (got {text[:40]!r})")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@cache
def _countries() -> dict[str, str]:
    """Country names in English and German, lower-cased, to ISO 3166-1 alpha-2 codes (from
    phonenumbers' geocoding data: no list of our own to keep). The data is imported here,
    on first use: it takes some 100 MB and half a second to load, in every process that
    imports this module (the web processes and workers too) otherwise."""
    from phonenumbers.geocoder import country_name_for_number

    names: dict[str, str] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        if example is None:
            continue
        for lang in ("en", "de"):
            name = country_name_for_number(example, lang)
            if name:
                names.setdefault(name.lower(), region)
    names.update({"usa": "US", "uk": "GB", "england": "GB", "great britain": "GB"})
    return names


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 for a code or an English or German country name; Refused else."""
    text = value.strip()
    if len(text) == 2 and text.upper() in countries_by_alpha2:
        return text.upper()
    code = _countries().get(" ".join(text.lower().split()))
    if code is None or code not in countries_by_alpha2:  # the customer API's rule (iso3166)
        raise Refused(f"country: unknown country {text[:60]!r}")
    return code


def domain_of(value: str) -> str:
    """``https://www.example.com/about`` -> ``example.com``; a bare domain lower-cased."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.")
