"""A missed-messages email, text and HTML, from the configured templates (``email.notif_template_text`` and
``notif_template_html``, read at start by ``config/email.py``).

Templates are ``string.Template`` text (Jinja2 is not a dependency of this project): ``$user_name``,
``$summary``, ``$messages``, ``$app_name``, ``$client_link`` and ``$unsubscribe_link`` are filled in. Every value
put into the HTML body is escaped here, since message bodies and names come from other users; ``$messages`` is
the list of messages grouped by room, already formatted for each body.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from string import Template
from urllib.parse import quote

from config.email import EmailConfig


@dataclass(frozen=True)
class MissedMessage:
    room_id: str
    room_name: str
    sender_name: str
    body: str


def _summary(app_name: str, missed: list[MissedMessage]) -> str:
    rooms = list(dict.fromkeys(message.room_name for message in missed))
    senders = list(dict.fromkeys(message.sender_name for message in missed))
    if len(rooms) == 1:
        count = "a message" if len(missed) == 1 else f"{len(missed)} messages"
        return f"You have {count} in {rooms[0]} on {app_name} from {', '.join(senders)}"
    return f"You have {len(missed)} messages in {len(rooms)} rooms on {app_name}"


def _by_room(missed: list[MissedMessage]) -> dict[str, list[MissedMessage]]:
    rooms: dict[str, list[MissedMessage]] = {}
    for message in missed:
        rooms.setdefault(message.room_id, []).append(message)
    return rooms


def _text_messages(missed: list[MissedMessage]) -> str:
    blocks = []
    for messages in _by_room(missed).values():
        lines = [f"{messages[0].room_name}:"] + [f"  {m.sender_name}: {m.body}" for m in messages]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _html_messages(missed: list[MissedMessage], room_link: str) -> str:
    blocks = []
    for room_id, messages in _by_room(missed).items():
        items = "".join(f"<li><b>{html.escape(m.sender_name)}</b>: {html.escape(m.body)}</li>" for m in messages)
        link = html.escape(room_link + quote(room_id, safe="!:"))
        blocks.append(f'<h3><a href="{link}">{html.escape(messages[0].room_name)}</a></h3><ul>{items}</ul>')
    return "\n".join(blocks)


def render_email(config: EmailConfig, *, to: str, user_name: str, missed: list[MissedMessage],
                 unsubscribe_link: str) -> EmailMessage:
    """The email telling ``to`` about ``missed`` (at least one message)."""
    summary = _summary(config.app_name, missed)
    client_link = config.client_base_url + "/"
    room_link = config.client_base_url + "/#/room/"
    text = Template(config.template_text).safe_substitute(
        user_name=user_name, summary=summary, messages=_text_messages(missed), app_name=config.app_name,
        client_link=client_link, unsubscribe_link=unsubscribe_link)
    body_html = Template(config.template_html).safe_substitute(
        user_name=html.escape(user_name), summary=html.escape(summary),
        messages=_html_messages(missed, room_link), app_name=html.escape(config.app_name),
        client_link=html.escape(client_link), unsubscribe_link=html.escape(unsubscribe_link))
    message = EmailMessage()
    message["Subject"] = f"[{config.app_name}] {summary}"
    message["From"] = config.sender()
    message["To"] = to
    message["List-Unsubscribe"] = f"<{unsubscribe_link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: the link also takes a POST
    message.set_content(text)
    message.add_alternative(body_html, subtype="html")
    return message
