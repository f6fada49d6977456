"""Custom fields: admins define them (key, label, type), customers, organizations and
tickets carry their values in ``custom_fields``."""
