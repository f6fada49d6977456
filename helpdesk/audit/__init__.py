"""The audit log: who changed what in the CRM and settings, when, before and after."""
