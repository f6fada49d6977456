"""How campaign messages travel: ``smtp`` for email."""
