"""A real IMAP server for tests and the benchmark: Dovecot from Debian's
``dovecot-imapd`` package, run in the foreground with its own configuration,
a passwd-file of throw-away users and a Maildir in a temporary folder,
listening on a free loopback port without TLS.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = "secret"
CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = mail
mail_gid = mail
namespace inbox {{
  inbox = yes
  separator = /
}}
protocol imap {{
  imap_idle_notify_interval = 2 secs
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={root}/home/%u
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    """One Dovecot process serving ``users`` (all with password ``secret``)."""

    def __init__(self, users: tuple[str, ...] = ("support", "customer")):
        self.users = users
        self.port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen | None = None
        # Not under pytest's 0700 tmp folders: Dovecot's mail processes run as `mail`.
        self.root = Path(tempfile.mkdtemp(prefix="hd-dovecot-"))

    def start(self) -> Dovecot:
        """Write the configuration, start Dovecot and wait until it accepts connections."""
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd")
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        for sub in ("mail", "home"):
            shutil.chown(self.root / sub, "mail", "mail")
        (self.root / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{PASSWORD}::::::\n" for user in self.users)
        )
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, port=self.port))
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited: {self.process.stderr.read().decode()} {self.log()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start listening: {self.log()}")

    def log(self) -> str:
        """Dovecot's log so far."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, user: str = "support", folder: str = "INBOX") -> str:
        """The ``imap://`` URL of a user's folder."""
        return f"imap://{user}:{PASSWORD}@{self.host}:{self.port}/{folder}"

    def client(self, user: str = "support"):
        """A logged-in IMAPClient for ``user``."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def stop(self) -> None:
        """Stop Dovecot and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)  # a throw-away server: no need to be gentle
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)
