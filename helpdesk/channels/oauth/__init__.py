"""Mailboxes at Microsoft 365 / Outlook.com and Google: signing in with OAuth 2
(authorization code with PKCE), keeping the tokens, and XOAUTH2 for IMAP and SMTP."""
