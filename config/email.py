"""The ``email`` section of Synapse's configuration, as far as notification emails need it: how to reach the SMTP
server, who the mail is from, what it looks like, and when it is sent.

Synapse's rules are kept: ``notif_from`` is required to send notifications, and must hold an address; links
need ``client_base_url``, else ``public_baseurl`` (which always exists here); asking for transport security while
turning TLS off is a contradiction. Templates are read at start
(``template_dir`` + ``notif_template_html``/``notif_template_text``), so a missing or unreadable one stops the
server with its key named, not the first email. ``notif_delay`` (a Ganglion key; Synapse hard-codes ten minutes)
is how long a notification must stay unread before it is mailed; ``notif_throttle`` (likewise) how long a room
stays quiet after its first email (it grows with each further one: ``tasks/email_pushers.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import parseaddr

from config.errors import ConfigError
from config.reader import Section

DEFAULT_TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks",
                                    "email_templates")
TEN_MINUTES_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class EmailConfig:
    enable_notifs: bool = False
    """Whether email pushers are sent anything (Synapse: ``email.enable_notifs``)."""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_pass: str | None = None
    require_transport_security: bool = False
    """STARTTLS is required: a server that does not offer it gets no mail."""
    enable_tls: bool = True
    """STARTTLS is used when the server offers it (false: never, and never with credentials over plain text)."""
    force_tls: bool = False
    """Implicit TLS from the first byte (SMTPS, usually port 465)."""
    notif_from: str = ""
    app_name: str = "Matrix"
    client_base_url: str = ""
    """Where links in emails point (a web client); ``public_baseurl`` when not set."""
    template_html: str = ""
    template_text: str = ""
    """The templates' text (``string.Template``), read at start."""
    notif_delay_ms: int = TEN_MINUTES_MS
    notif_throttle_ms: int = TEN_MINUTES_MS

    def sender(self) -> str:
        """``notif_from`` with Synapse's ``%(app)s`` placeholder filled in."""
        return self.notif_from.replace("%(app)s", self.app_name)


def _template(section: Section, key: str, default: str) -> str:
    directory = section.text("template_dir", DEFAULT_TEMPLATE_DIR)
    name = section.text(key, default)
    path = name if os.path.isabs(name) else os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ConfigError(section.path_of(key), f"cannot read template {path!r}: {error.strerror}") from None


def parse_email(top: Section, public_baseurl: str) -> EmailConfig:
    section = top.section("email")
    if not section.mapping_keys():
        return EmailConfig()
    enable_notifs = section.flag("enable_notifs", False)
    notif_from = section.text("notif_from", None)
    if notif_from is None and enable_notifs:
        raise ConfigError(section.path_of("notif_from"), "required with enable_notifs: true")
    notif_from = notif_from or ""
    if notif_from and "@" not in parseaddr(notif_from.replace("%(app)s", "app"))[1]:
        raise ConfigError(section.path_of("notif_from"), f"{notif_from!r} holds no email address")
    port = section.integer("smtp_port", 25, minimum=1)
    if port > 65535:
        raise ConfigError(section.path_of("smtp_port"), "must be at most 65535")
    enable_tls = section.flag("enable_tls", True)
    require = section.flag("require_transport_security", False)
    force_tls = section.flag("force_tls", False)
    if require and not enable_tls:
        raise ConfigError(section.path_of("require_transport_security"), "cannot be true with enable_tls: false")
    if force_tls and not enable_tls:
        raise ConfigError(section.path_of("force_tls"), "cannot be true with enable_tls: false")
    user, password = section.text("smtp_user", None), section.text("smtp_pass", None)
    if (user is None) != (password is None):
        raise ConfigError(section.path_of("smtp_pass" if password is None else "smtp_user"),
                          "smtp_user and smtp_pass are set together")
    client_base_url = section.text("client_base_url", None) or section.text("riot_base_url", None) or public_baseurl
    if not client_base_url.startswith(("http://", "https://")):
        raise ConfigError(section.path_of("client_base_url"), "must start with http:// or https://")
    section.flag("notif_for_new_users", True)  # checked only: registration here binds no email to add a pusher for
    delay = section.duration_ms("notif_delay", TEN_MINUTES_MS)
    throttle = section.duration_ms("notif_throttle", TEN_MINUTES_MS)
    for key, value in (("notif_delay", delay), ("notif_throttle", throttle)):
        if value < 0:
            raise ConfigError(section.path_of(key), "must not be negative")
    return EmailConfig(
        enable_notifs=enable_notifs,
        smtp_host=section.text("smtp_host", "localhost"),
        smtp_port=port,
        smtp_user=user,
        smtp_pass=password,
        require_transport_security=require,
        enable_tls=enable_tls,
        force_tls=force_tls,
        notif_from=notif_from,
        app_name=section.text("app_name", "Matrix"),
        client_base_url=client_base_url.rstrip("/"),
        template_html=_template(section, "notif_template_html", "notif_mail.html"),
        template_text=_template(section, "notif_template_text", "notif_mail.txt"),
        notif_delay_ms=delay,
        notif_throttle_ms=throttle,
    )
