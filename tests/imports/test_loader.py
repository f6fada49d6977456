"""`helpdesk import customers|orders FILE.csv`: bad rows reported by line, good rows loaded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk.customers import consents
from helpdesk.customers.models import Customer, Identity, Order, Organization
from helpdesk.extensions import db

CUSTOMER_HEADER = (
    "name,email,phone,organization,title,key_person,language,preferred_channel,tags,order_updates"
)
ORDER_HEADER = (
    "number,customer_email,customer_phone,customer_id,customer_name,status,total,"
    "currency,ordered_at,carrier,tracking_number,tracking_url,expected_delivery,lines"
)


@pytest.fixture
def imports(app):
    """The import module, loaded once the app has imported every model."""
    from helpdesk.imports import loader as module

    return module


def csv_file(
    tmp_path: Path, *lines: str, name: str = "data.csv", encoding: str = "utf-8", end: str = "\r\n"
) -> Path:
    """Write a CSV file (Excel's CRLF line ends by default)."""
    path = tmp_path / name
    path.write_bytes(end.join(lines).encode(encoding) + end.encode())
    return path


def by_email(address: str) -> Customer | None:
    """The customer owning an email address."""
    return db.session.scalar(
        select(Customer).join(Identity).where(Identity.kind == "email", Identity.value == address)
    )


def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def test_customer_rows_load_upsert_or_are_refused_with_their_line(imports, tmp_path, make_customer):
    eve = make_customer("Eve Existing", emails=["eve@example.com"], tags=["newsletter"])
    oscar = make_customer("Oscar Other", phones=["+4915112345678"])
    clinic = Organization(name="Ärztehaus Nord")
    db.session.add(clinic)
    db.session.commit()
    path = csv_file(
        tmp_path,
        CUSTOMER_HEADER,
        "Ada Lovelace,ADA@Example.com;ada.l@example.org,0151 23456789,Analytical Engines,CTO,"
        "yes,DE,Email,vip; b2b,1",  # 2: good
        "Bob,bob(at)example.com,,,,,,,,",  # 3: bad email
        'Carl Clever,carl@example.com,,,"Head of',  # 4-5: a quoted line
        'Purchasing",no,en,sms,,0',  # break in the title
        "Dan,dan@example.com,,,,maybe,,,,",  # 6: bad key_person
        "Mallory,eve@example.com,+49 151 12345678,,,,,,,",  # 7: two customers
        "",  # 8: blank, skipped
        ",EVE@example.com,+44 7700 900123,,Buyer,,,,vip,",  # 9: updates Eve
        "Fay,fay@example.com,,,,,,fax,,",  # 10: bad channel
        "Gus,gus@example.com,not a number,,,,,,,",  # 11: bad phone
        "Hal,hal@example.com,,analytical engines,,,,,,",  # 12: same organization
        ",,,Only An Organization,,,,,,",  # 13: nobody
        "Ina,ina@example.com,,Ärztehaus Nord,,,,,,",  # 14: known one
    )

    report = imports.import_customers(path)

    refused = dict(report.errors)
    assert sorted(refused) == [3, 6, 7, 10, 11, 13], report.errors
    assert "email" in refused[3] and "bob(at)example.com" in refused[3]
    assert refused[6].startswith("key_person:") and "'maybe'" in refused[6]
    assert f"customer {eve.id}" in refused[7] and f"customer {oscar.id}" in refused[7]
    assert refused[10].startswith("preferred_channel:") and "'fax'" in refused[10]
    assert refused[11].startswith("phone:")
    assert "name, an email or a phone" in refused[13]
    assert report.loaded == 5

    ada = by_email("ada@example.com")
    assert ada.values("email") == ["ada@example.com", "ada.l@example.org"]
    assert ada.values("phone") == ["+4915123456789"]
    assert (
        ada.name,
        ada.title,
        ada.key_person,
        ada.language,
        ada.preferred_channel,
        consents.granted(ada, "order_updates"),
        ada.tags,
    ) == ("Ada Lovelace", "CTO", True, "de", "email", True, ["vip", "b2b"])
    assert [(c.purpose, c.granted) for c in ada.consents] == [("order_updates", True)]
    assert ada.organization.name == "Analytical Engines"
    assert by_email("hal@example.com").organization_id == ada.organization_id
    assert by_email("ina@example.com").organization_id == clinic.id
    assert count(Organization) == 2
    carl = by_email("carl@example.com")
    assert carl.title == "Head of\r\nPurchasing" and carl.key_person is False
    assert carl.preferred_channel == "sms"

    db.session.expire_all()
    eve = db.session.get(Customer, eve.id)
    assert eve.name == "Eve Existing"  # an empty cell changes nothing
    assert eve.title == "Buyer" and eve.tags == ["newsletter", "vip"]
    assert eve.values("phone") == ["+447700900123"]
    assert db.session.get(Customer, oscar.id).values("email") == []
    assert by_email("bob(at)example.com") is None and by_email("mallory") is None
    assert count(Customer) == 2 + 5 - 1  # Eve was updated, not duplicated


def test_order_rows_load_upsert_or_are_refused_with_their_line(imports, tmp_path, make_customer):
    ada = make_customer("Ada", emails=["ada@example.com"])
    path = csv_file(
        tmp_path,
        ORDER_HEADER,
        '10001,ADA@example.com,,,,Shipped,"59,00",eur,2024-05-01,DHL,123,'
        "https://dhl.example/123,2024-05-04,LAMP-03|Desk lamp|1|59.00;MUG-01|Mug|2|",  # 2
        "10002,ada@example.com,,,,lost,,,,,,,,",  # 3: status
        "10003,ada@example.com,,,,paid,12.5x,,,,,,,",  # 4: total
        ",ada@example.com,,,,paid,,,,,,,,",  # 5: number
        "10004,bad@,,,,paid,,,,,,,,",  # 6: email
        "10005,,,999999,,paid,,,,,,,,",  # 7: nobody
        f"10006,,,{ada.id},,paid,10,EUR,2024-06-01T12:30:00+02:00,,,,,",  # 8: by id
        "10007,,0171 1234567,,Neu Kunde,pending,,,,,,,,BOOK-06|Notizbuch|x|9.90",  # 9: quantity
        "10008,,0171 1234567,,Neu Kunde,pending,,,,,,,,",  # 10: new one
        "10001,,,,,delivered,,,,,,,,",  # 11: update
        "10009,,,,,paid,,,,,,,,",  # 12: whose?
    )

    report = imports.import_orders(path)

    refused = dict(report.errors)
    assert sorted(refused) == [3, 4, 5, 6, 7, 9, 12], report.errors
    assert refused[3].startswith("status:") and "'lost'" in refused[3]
    assert refused[4].startswith("total:") and "'12.5x'" in refused[4]
    assert refused[5] == "number is missing"
    assert refused[6].startswith("customer_email:")
    assert refused[7].startswith("no such customer") and "customer_id" in refused[7]
    assert refused[9].startswith("lines item 1 quantity:")
    assert "customer_id" in refused[12]
    assert report.loaded == 4

    first = db.session.scalar(select(Order).where(Order.number == "10001"))
    assert first.customer_id == ada.id and first.status == "delivered"  # loaded, then updated
    assert (first.total, first.currency, first.carrier) == (Decimal("59.00"), "EUR", "DHL")
    assert [(line.sku, line.quantity, line.unit_price) for line in first.lines] == [
        ("LAMP-03", 1, Decimal("59.00")),
        ("MUG-01", 2, None),
    ]
    assert first.expected_delivery.isoformat() == "2024-05-04"
    by_id = db.session.scalar(select(Order).where(Order.number == "10006"))
    assert by_id.customer_id == ada.id and by_id.ordered_at.hour == 10  # stored in UTC
    new = db.session.scalar(select(Order).where(Order.number == "10008"))
    assert new.customer.name == "Neu Kunde" and new.customer.values("phone") == ["+491711234567"]
    assert count(Order) == 3


def test_unknown_column_refuses_the_whole_file(imports, tmp_path):
    path = csv_file(tmp_path, "name,emial,phone", "Ada,ada@example.com,", "Bob,,")
    report = imports.import_customers(path)
    assert report.loaded == 0 and len(report.errors) == 1
    line, message = report.errors[0]
    assert line == 1 and "'emial'" in message and "nothing loaded" in message
    assert count(Customer) == 0


def test_bom_semicolons_and_umlauts(imports, tmp_path):
    path = csv_file(
        tmp_path,
        " Name ;EMAIL;Phone",
        'Jürgen Müller;"j.mueller@example.de;jm@example.de";+49 (0)151 2345 6789',
        "Zoë Ärger;zoe@example.de;",
        encoding="utf-8-sig",
        end="\n",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = imports.import_customers(path)
    assert report.errors == [] and report.loaded == 2
    juergen = by_email("j.mueller@example.de")
    assert juergen.name == "Jürgen Müller" and juergen.values("email")[1] == "jm@example.de"
    assert juergen.values("phone") == ["+4915123456789"]
    assert by_email("zoe@example.de").name == "Zoë Ärger"

    orders = csv_file(
        tmp_path,
        "number;customer_email;total;lines",
        '20001;zoe@example.de;12,50;"MUG-01|Becher|1|12,50"',
        name="orders.csv",
    )
    assert imports.import_orders(orders).errors == []
    order = db.session.scalar(select(Order).where(Order.number == "20001"))
    assert order.total == Decimal("12.50") and order.lines[0].unit_price == Decimal("12.50")


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200), "binary"),
        ("name,email\nAda,ada@example.com\n".encode("utf-16"), "binary"),
        ("name,email\nJürgen,j@example.com\n".encode("latin-1"), "UTF-8"),
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
    ],
)
def test_a_file_that_is_not_csv_loads_nothing(imports, tmp_path, content, reason):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    for load in (imports.import_customers, imports.import_orders):
        report = load(path)
        assert report.loaded == 0 and len(report.errors) == 1, report.errors
        assert report.errors[0][0] == 1 and reason in report.errors[0][1]
    assert count(Customer) == 0 and count(Order) == 0


@pytest.mark.slow
def test_bad_row_after_a_batch_commit_keeps_its_line(imports, tmp_path, monkeypatch):
    assert imports.BATCH == 500
    monkeypatch.setattr(imports, "BATCH", 50)  # the same rule with a tenth of the rows
    rows = [f"Person {n},p{n}@example.com,+4915{n:09d}" for n in range(1, 71)]
    rows[59] = "Person 60,p60(at)example.com,"  # line 61, after the first commit
    path = csv_file(tmp_path, "name,email,phone", *rows)
    report = imports.import_customers(path)
    assert report.loaded == 69 and [line for line, _ in report.errors] == [61]
    assert count(Customer) == 69
    assert by_email("p70@example.com").values("phone") == ["+4915000000070"]


def test_cli_reports_refused_rows_on_stderr_and_exits_1(app, tmp_path):
    runner = app.test_cli_runner()
    good = csv_file(tmp_path, "name,email", "Ada,ada@example.com", name="good.csv")
    result = runner.invoke(args=["import", "customers", str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "1 loaded, 0 refused",
        "helpdesk file of customers: 1 created",
    ]
    assert result.stderr == ""

    mixed = csv_file(
        tmp_path,
        "number,customer_email,status",
        "1,ada@example.com,paid",
        "2,ada@example.com,lost",
        name="orders.csv",
    )
    result = runner.invoke(args=["import", "orders", str(mixed)])
    assert result.exit_code == 1
    assert result.stdout.strip() == "1 loaded, 1 refused"
    assert result.stderr.startswith("line 3: status:") and "Traceback" not in result.output

    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100))
    result = runner.invoke(args=["import", "customers", str(binary)])
    assert result.exit_code == 1
    assert "line 1: not a CSV file" in result.stderr and "Traceback" not in result.output
    assert count(Customer) == 1 and count(Order) == 1


def test_cli_dry_run_and_format(app, tmp_path, make_customer):
    from helpdesk.audit.models import AuditEvent

    make_customer("Eve Existing", emails=["eve@example.com"])

    def imports_recorded() -> int:
        return db.session.scalar(
            select(func.count()).where(AuditEvent.action == "customers.import")
        )

    samples = Path(__file__).parent / "samples"
    runner = app.test_cli_runner()
    hubspot = str(samples / "hubspot-contacts.csv")

    result = runner.invoke(args=["import", "customers", "--dry-run", hubspot])
    assert result.exit_code == 1  # one row would be refused
    assert result.stdout.splitlines() == [
        "3 would load, 1 refused",
        "hubspot file of customers: 2 created, 1 merged, 1 refused",
    ]
    assert result.stderr.startswith("line 4: email")
    assert count(Customer) == 1 and imports_recorded() == 0  # a dry run records nothing

    wrong = runner.invoke(args=["import", "customers", "--format", "pipedrive", hubspot])
    assert wrong.exit_code == 1 and count(Customer) == 1  # no Pipedrive column: nobody
    assert "a customer needs a name, an email or a phone" in wrong.stderr

    result = runner.invoke(args=["import", "customers", "--format", "hubspot", hubspot])
    assert result.stdout.splitlines()[0] == "3 loaded, 1 refused"
    assert count(Customer) == 3 and imports_recorded() == 2  # every real run is recorded

    orgs = runner.invoke(
        args=["import", "organizations", str(samples / "pipedrive-organizations.csv")]
    )
    assert orgs.stdout.splitlines() == [
        "2 loaded, 2 refused",
        "pipedrive file of organizations: 2 created, 2 refused",
    ]
    assert count(Organization) == 3  # two new, and HubSpot's Bäckerei Müller GmbH


@pytest.mark.slow
def test_progress_is_told_after_each_batch_is_committed_or_rolled_back(imports, app, monkeypatch):
    import io

    monkeypatch.setattr(imports, "BATCH", 50)  # the rule of 500 with a tenth of the rows
    rows = "\r\n".join(["name,email", *(f"P{n},p{n}@example.com" for n in range(1, 111))])
    for dry_run, stored in ((True, [0, 0]), (False, [50, 100])):
        seen = []

        def progress(done, seen=seen):
            seen.append((done, count(Customer)))

        report = imports.load(io.StringIO(rows), "customers", dry_run=dry_run, progress=progress)
        assert report.counts["created"] == 110
        assert seen == list(zip([50, 100], stored, strict=True))
    assert count(Customer) == 110
