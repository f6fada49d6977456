"""The demo's material: the cast, the shop, what customers write and agents answer, and
the pace of it."""

from __future__ import annotations

from datetime import timedelta

# --- the cast ------------------------------------------------------------------
LOGINS = [  # email, name, role, teams, password (printed: these are demo logins)
    ("admin@demo.helpdesk", "Alex Admin", "admin", ("Support", "Sales", "Billing"), "demo-admin"),
    ("lead@demo.helpdesk", "Lena Lead", "lead", ("Support", "Billing"), "demo-lead"),
    ("agent@demo.helpdesk", "Sam Agent", "agent", ("Support",), "demo-agent"),
    ("jonas@demo.helpdesk", "Jonas Becker", "agent", ("Support",), "demo-jonas"),
    ("billing@demo.helpdesk", "Bo Billing", "agent", ("Billing",), "demo-billing"),
    ("sales@demo.helpdesk", "Sara Sales", "lead", ("Sales",), "demo-sales"),
    ("chat@demo.helpdesk", "Mira Chat", "agent", ("Sales",), "demo-chat"),
]
# An account manager (own accounts only): sees just the organizations and customers
# they manage (demo/__init__.py: _account_manager), and of those the tickets of their
# teams. Not in LOGINS: the played conversations never assign them anyone else's.
ACCOUNT_MANAGER = (
    "anna.konto@demo.helpdesk",
    "Anna Konto",
    "agent",
    ("Support", "Sales"),
    "demo-konto",
)
CHANNELS = {
    "email": ("Support mailbox", "support@demo.helpdesk", "Support"),
    "phone": ("Hotline", "+4930901820", "Support"),
    "chat": ("Website chat", "demo-website-chat", "Sales"),
}
COUNTRIES = {  # region: names, language, currency, company suffix, weight
    "DE": ("de", "de", "EUR", "GmbH", 58),
    "AT": ("de", "de", "EUR", "GmbH", 8),
    "CH": ("de", "de", "CHF", "AG", 7),
    "GB": ("en", "en", "GBP", "Ltd", 10),
    "US": ("en", "en", "USD", "Inc.", 5),
    "FR": ("fr", "en", "EUR", "SARL", 6),
    "NL": ("nl", "en", "EUR", "B.V.", 6),
}
NAMES = {
    "de": (
        "Anna Ben Clara David Emma Felix Greta Hannes Ida Jonas Karla Lukas Mia Noah Paul "
        "Rosa Simon Lea Jan Sophie Max Marie Tim Julia Moritz Hannah Tobias Katrin Jürgen "
        "Ursula".split(),
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Schulz Koch "
        "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hartmann Lange "
        "Werner Krause Lehmann Köhler Maier Huber Vogel Özdemir".split(),
    ),
    "en": (
        "Oliver Amelia George Isla Harry Ava Jack Emily Charlie Grace Thomas Lily James "
        "William Olivia Daniel Chloe Michael Sarah John".split(),
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
        "Evans Walker White Roberts Green Hall Wood Clarke Hughes".split(),
    ),
    "fr": (
        "Camille Louis Léa Hugo Chloé Jules Manon Lucas Inès Gabriel Zoé Arthur".split(),
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Laurent "
        "Lefèvre".split(),
    ),
    "nl": (
        "Daan Emma Sem Julia Lucas Tess Levi Sophie Finn Anna Milan Sara".split(),
        [
            "de Jong",
            "Jansen",
            "de Vries",
            "van den Berg",
            "van Dijk",
            "Bakker",
            "Visser",
            "Smit",
            "Meijer",
            "de Boer",
            "Mulder",
            "Bos",
        ],
    ),
}
COMPANIES = [
    ("Nordlicht Logistik", "DE"),
    ("Rheinwerk Maschinenbau", "DE"),
    ("Alpenblick Hotels", "AT"),
    ("Elbe Medien", "DE"),
    ("Isar Consulting", "DE"),
    ("Spreewald Feinkost", "DE"),
    ("Hanse Handel", "DE"),
    ("Bodensee Sport", "CH"),
    ("Brandt & Söhne", "DE"),
    ("Kieler Werft", "DE"),
    ("Zürcher Uhren", "CH"),
    ("Wiener Kaffeehaus", "AT"),
    ("Acme", "US"),
    ("Globex", "DE"),
    ("Initech", "GB"),
    ("Umbrella", "DE"),
    ("Hooli", "DE"),
    ("Vandelay Industries", "GB"),
    ("Wonka Confectionery", "GB"),
    ("Pied Piper", "NL"),
    ("Dunder Mifflin", "NL"),
    ("Aperture Labs", "DE"),
    ("Tyrell", "FR"),
    ("Cyberdyne", "FR"),
    ("Monarch Solutions", "DE"),
]
MAIL_DOMAINS = ("mail.example", "post.example", "inbox.example", "web.example")
KEY_TITLES = ("CEO", "Geschäftsführerin", "Head of Purchasing", "Einkaufsleiter", "CTO")
TITLES = (
    "Buchhaltung",
    "Accounts Payable",
    "Assistant",
    "Project Manager",
    "Lagerleitung",
    "IT Administrator",
)
CUSTOMER_TAGS = ("vip", "newsletter", "reseller", "wholesale")

# --- the shop ------------------------------------------------------------------
PRODUCTS = [
    ("MUG-01", "Kaffeebecher", "Coffee mug", "12.90"),
    ("TEE-02", "Bio-T-Shirt", "Organic T-shirt", "24.00"),
    ("LAMP-03", "Schreibtischlampe", "Desk lamp", "59.00"),
    ("BAG-04", "Canvas-Tasche", "Canvas bag", "19.50"),
    ("PEN-05", "Füllfederhalter", "Fountain pen", "35.00"),
    ("BOOK-06", "Notizbuch A5", "A5 notebook", "9.90"),
    ("CHAIR-07", "Bürostuhl", "Office chair", "249.00"),
    ("KBD-08", "Tastatur", "Keyboard", "89.00"),
]
CARRIERS = [
    ("DHL", "https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode={}"),
    ("UPS", "https://www.ups.com/track?tracknum={}"),
    ("DPD", "https://tracking.dpd.de/status/de_DE/parcel/{}"),
    ("Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/?tracking={}"),
    ("GLS", "https://gls-group.com/DE/de/paketverfolgung?match={}"),
]
ORDER_AGES = {  # status: youngest and oldest age in days, weight
    "pending": (0.05, 2, 6),
    "paid": (0.2, 3, 8),
    "processing": (1, 5, 8),
    "shipped": (2, 7, 12),
    "delayed": (6, 20, 8),
    "delivered": (8, 120, 40),
    "cancelled": (3, 90, 8),
    "returned": (20, 120, 10),
}

# --- what customers write and agents answer ------------------------------------
# Per kind: team, fitting order statuses, tags, weight, priority weights
# (low, normal, high, urgent), and per language: subject, first message,
# customer's follow-up, agent's answer, agent's closing answer, internal note.
HI = {"de": "Hallo {first},\n\n", "en": "Hi {first},\n\n"}
BYE = {"de": "\n\nViele Grüße\n{agent}", "en": "\n\nBest regards,\n{agent}"}
KINDS = {
    "delivery": (
        "Support",
        ("processing", "shipped", "delayed", "delivered"),
        ("delivery",),
        30,
        (10, 60, 22, 8),
        {
            "de": (
                "Wo ist meine Bestellung {order}?",
                "Hallo,\n\nich warte seit einer Woche auf meine Bestellung {order}. Können Sie "
                "bitte nachsehen, wo sie bleibt?\n\nViele Grüße\n{name}",
                "Danke, aber in der Sendungsverfolgung tut sich seit drei Tagen nichts. Wann "
                "kommt das Paket?",
                "Ihre Bestellung {order} ist unterwegs{tracking}. Wir behalten die Sendung im "
                "Blick.",
                "der Versanddienst hat die Zustellung für morgen bestätigt. Melden Sie sich gern, "
                "falls noch etwas fehlt.",
                "Beim Versanddienst nachgefragt: Paket liegt im Verteilzentrum, Zustellung in 1-2 "
                "Tagen.",
            ),
            "en": (
                "Where is my order {order}?",
                "Hi,\n\nmy order {order} still has not arrived. Could you check where it is?"
                "\n\nThanks,\n{name}",
                "Thanks, but the tracking page has not changed for three days. When will it "
                "arrive?",
                "your order {order} is on its way{tracking}. We are keeping an eye on it.",
                "the carrier confirmed delivery for tomorrow. Let us know if anything is still "
                "missing.",
                "Checked with the carrier: the parcel is at the hub, delivery in 1-2 days.",
            ),
        },
    ),
    "invoice": (
        "Billing",
        ("paid", "shipped", "delayed", "delivered"),
        ("invoice",),
        14,
        (20, 70, 8, 2),
        {
            "de": (
                "Rechnung zu Bestellung {order}",
                "Guten Tag,\n\nfür unsere Buchhaltung brauche ich die Rechnung zu Bestellung "
                "{order}, bitte mit unserer Firmenanschrift.\n\nMit freundlichen Grüßen\n{name}",
                "Die Rechnung ist da, aber unsere USt-IdNr. fehlt. Können Sie das ergänzen?",
                "die Rechnung zu Bestellung {order} finden Sie in Ihrem Kundenkonto; eine Kopie "
                "haben wir Ihnen eben geschickt.",
                "wir haben die Rechnung mit Ihrer USt-IdNr. neu ausgestellt und Ihnen zugeschickt.",
                "Rechnung neu erzeugt, die alte storniert.",
            ),
            "en": (
                "Invoice for order {order}",
                "Hello,\n\nour accounts team needs the invoice for order {order}, with our "
                "company address please.\n\nKind regards,\n{name}",
                "Got it, thanks, but our VAT number is missing. Can you add it?",
                "the invoice for order {order} is in your customer account; we just sent you a "
                "copy as well.",
                "we reissued the invoice with your VAT number and sent it to you.",
                "Invoice regenerated, the old one cancelled.",
            ),
        },
    ),
    "damage": (
        "Support",
        ("delivered", "returned"),
        ("damage", "replacement"),
        12,
        (0, 45, 40, 15),
        {
            "de": (
                "{product} beschädigt angekommen",
                "Hallo,\n\nin meiner Bestellung {order} war der Artikel „{product}“ kaputt. Fotos "
                "kann ich schicken. Bekomme ich Ersatz?\n\nGrüße\n{name}",
                "Hier die Fotos. Bitte schicken Sie Ersatz, eine Erstattung brauche ich nicht.",
                "das tut uns leid! Schicken Sie uns bitte ein Foto des Schadens, dann senden wir "
                "sofort Ersatz.",
                "der Ersatz ist heute rausgegangen; die beschädigte Ware müssen Sie nicht "
                "zurückschicken.",
                "Ersatzlieferung angelegt, Schaden beim Versanddienst gemeldet.",
            ),
            "en": (
                "{product} arrived broken",
                "Hi,\n\nthe {product} from order {order} arrived damaged. I can send photos. "
                "Can you send a replacement?\n\n{name}",
                "Photos attached. A replacement is fine, no refund needed.",
                "sorry about that! Please send us a photo of the damage and we will ship a "
                "replacement right away.",
                "your replacement shipped today; no need to send the damaged item back.",
                "Replacement order created, damage reported to the carrier.",
            ),
        },
    ),
    "return": (
        "Support",
        ("delivered", "returned"),
        ("return", "refund"),
        10,
        (25, 65, 8, 2),
        {
            "de": (
                "Rücksendung Bestellung {order}",
                "Hallo,\n\nich möchte „{product}“ aus Bestellung {order} zurückgeben. Wie bekomme "
                "ich ein Rücksendeetikett?\n\n{name}",
                "Das Paket ist heute zurückgegangen. Wann kommt das Geld?",
                "Ihr Rücksendeetikett finden Sie im Kundenkonto bei Bestellung {order}.",
                "die Rücksendung ist angekommen, die Erstattung ist angewiesen.",
                "Retoure geprüft, Ware einwandfrei, Erstattung freigegeben.",
            ),
            "en": (
                "Return for order {order}",
                "Hi,\n\nI would like to return the {product} from order {order}. How do I get "
                "a return label?\n\n{name}",
                "Sent the parcel back today. When do I get my money?",
                "your return label is in your customer account under order {order}.",
                "your return arrived and the refund is on its way.",
                "Return checked, item fine, refund released.",
            ),
        },
    ),
    "cancel": (
        "Billing",
        ("pending", "paid", "cancelled"),
        ("cancellation", "refund"),
        10,
        (10, 60, 25, 5),
        {
            "de": (
                "Bestellung {order} stornieren",
                "Hallo,\n\nbitte stornieren Sie meine Bestellung {order}, ich habe mich in der "
                "Größe vertan.\n\nDanke\n{name}",
                "Wann bekomme ich das Geld zurück?",
                "wir haben Bestellung {order} storniert. Die Erstattung geht in den nächsten "
                "Tagen an Ihre Zahlungsart zurück.",
                "die Erstattung wurde heute angewiesen und ist in 3-5 Werktagen bei Ihnen.",
                "Storno im Shop gebucht, Erstattung angestoßen.",
            ),
            "en": (
                "Please cancel order {order}",
                "Hi,\n\nplease cancel my order {order}, I picked the wrong size."
                "\n\nThanks,\n{name}",
                "When will I get my money back?",
                "we cancelled order {order}. The refund goes back to your payment method within "
                "a few days.",
                "the refund went out today and should reach you in 3-5 business days.",
                "Cancelled in the shop, refund started.",
            ),
        },
    ),
    "account": (
        "Support",
        (),
        ("account",),
        12,
        (10, 70, 15, 5),
        {
            "de": (
                "Passwort zurücksetzen",
                "Hallo,\n\nich komme nicht mehr in mein Kundenkonto, die E-Mail zum Zurücksetzen "
                "des Passworts kommt nicht an.\n\n{name}",
                "Die Mail war im Spam-Ordner, jetzt klappt es. Danke!",
                "wir haben Ihnen eben einen neuen Link zum Zurücksetzen geschickt. Bitte schauen "
                "Sie auch im Spam-Ordner nach.",
                "schön, dass es jetzt klappt!",
                "Reset-Link von Hand ausgelöst; der Mailserver des Kunden filtert unsere Absender.",
            ),
            "en": (
                "Password reset not working",
                "Hi,\n\nI cannot log in to my account and the password reset email never "
                "arrives.\n\n{name}",
                "It was in my spam folder, works now. Thanks!",
                "we just sent you a new reset link. Please check your spam folder too.",
                "great to hear it works now!",
                "Triggered the reset link by hand; the customer's mail server filters us.",
            ),
        },
    ),
    "product": (
        "Sales",
        (),
        ("presales",),
        12,
        (30, 60, 10, 0),
        {
            "de": (
                "Frage zu {product}",
                "Hallo,\n\ngibt es „{product}“ auch in Schwarz, und ab welcher Menge gibt es "
                "Mengenrabatt?\n\n{name}",
                "Super, dann nehmen wir 20 Stück. Schicken Sie uns ein Angebot?",
                "ja, „{product}“ gibt es auch in Schwarz. Ab 10 Stück gewähren wir 10 % Rabatt.",
                "das Angebot ist unterwegs, es gilt 30 Tage.",
                "Angebot über 20 Stück erstellt, Wiedervorlage in einer Woche.",
            ),
            "en": (
                "Question about the {product}",
                "Hi,\n\nis the {product} available in black, and do you offer a volume "
                "discount?\n\n{name}",
                "Great, we will take 20. Could you send us a quote?",
                "yes, the {product} comes in black too. From 10 pieces we give 10% off.",
                "the quote is on its way and valid for 30 days.",
                "Quote for 20 pieces created, follow up in a week.",
            ),
        },
    ),
}
CHASER = {"de": "Gibt es schon Neuigkeiten zu meiner Anfrage?", "en": "Any news on my request?"}
ASK = {
    "de": "danke! Können Sie uns noch Ihre Lieferadresse bestätigen? Dann geht es sofort weiter.",
    "en": "thanks! Could you confirm your delivery address? Then we can go ahead.",
}
CUSTOMER_NOTES = {
    "de": [
        "Möchte nachmittags zurückgerufen werden.",
        "Rechnungen bitte immer an die Einkaufsabteilung.",
        "Stammkunde seit Jahren, bei Problemen kulant sein.",
    ],
    "en": [
        "Prefers a call back in the afternoon.",
        "Invoices always to the purchasing department.",
        "Long-standing customer: be generous when something goes wrong.",
    ],
}
GOALS = [
    (0.5, (60, 25, 15, 0)),
    (3, (25, 30, 20, 25)),
    (14, (3, 12, 15, 70)),
    (61, (1, 5, 6, 88)),
]  # age limit in days: weights of new, open, pending, done
# Hours until the team triages, answers, and the customer writes back, per channel.
TRIAGE = {
    "email": (0.03, 0.7),
    "web": (0.03, 0.7),
    "sms": (0.03, 0.7),
    "voice": (0.03, 0.7),
    "chat": (0.01, 0.05),
}
RESPONSE = {"email": (0.5, 20), "web": (0.5, 20), "sms": (0.1, 5), "chat": (0.02, 0.15)}
FOLLOW_UP = {"email": (1, 36), "web": (1, 36), "sms": (0.2, 12), "chat": (0.02, 0.1)}
CALL_NOTE = {"de": "Telefonat:", "en": "Call:"}
AUTO_CLOSE = timedelta(days=4)  # what tickets.services.close_solved does to solved tickets
