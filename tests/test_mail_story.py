"""The mail story of a new customer, tried as a new deployment would run it: `guichet serve`
and `guichet smtpd` as processes, an SMTP relay in front of smtpd (the deployment's MTA),
a real SMTP server catching what Guichet sends, Python's smtplib as the customer's mail
client, and a GraphQL multipart client for files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiosmtplib
import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.server.smtp import Mailbox, smtp_server

GUICHET = shutil.which("guichet") or shutil.which("guichet", path=str(Path(sys.executable).parent))
SUPPORT = "support@acme.test"
CUSTOMER = "carla@customer.test"
PASSWORD = "a long enough password"


class Relay:
    """The deployment's MTA, reduced to what matters here: it takes mail for the support
    address and hands it on to `guichet smtpd` over SMTP."""

    def __init__(self, smtpd_port: int) -> None:
        self.smtpd_port = smtpd_port

    async def handle_DATA(self, server, session, envelope) -> str:
        await aiosmtplib.send(
            envelope.content,
            sender=envelope.mail_from,
            recipients=envelope.rcpt_tos,
            hostname="127.0.0.1",
            port=self.smtpd_port,
        )
        return "250 2.0.0 relayed"


@contextlib.contextmanager
def process(args: list[str], env: dict, log: Path, ready) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            assert child.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{args[1]} did not start: {log.read_text()}"
            time.sleep(0.1)
        yield child
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    assert "Traceback" not in log.read_text(), log.read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def customer_mail(subject: str, body: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Carla Customer <{CUSTOMER}>"
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


@pytest.fixture
def deployment(tmp_path: Path):
    """Guichet on SQLite with its mail wired: yields (graphql url, relay port, mailbox)."""
    mailbox = Mailbox()
    http_port, smtpd_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env |= {
        "GUICHET_DATABASE_URL": f"sqlite://{tmp_path / 'guichet.sqlite3'}",
        "GUICHET_STORAGE_DIR": str(tmp_path / "storage"),
        "GUICHET_MAIL_FROM": f"Acme Support <{SUPPORT}>",
        "GUICHET_PUBLIC_URL": base,
        "GUICHET_SECRET_KEY": "s" * 40,
    }
    subprocess.run(
        [GUICHET, "create-user", "--name", "Olga Owner", "--email", "olga@acme.test",
         "--password", PASSWORD, "--role", "owner"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [GUICHET, "create-user", "--name", "Ana Agent", "--email", "ana@acme.test",
         "--password", PASSWORD, "--role", "agent"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    smtpd_log = tmp_path / "smtpd.log"
    with (
        smtp_server(mailbox) as smtp_url,
        process(
            [GUICHET, "serve", "--port", str(http_port), "--no-access-log"],
            env | {"GUICHET_SMTP_URL": smtp_url},
            tmp_path / "serve.log",
            lambda: _answers(f"{base}/healthz"),
        ),
        process(
            [GUICHET, "smtpd", "--port", str(smtpd_port)],
            env,
            smtpd_log,
            lambda: "listening" in smtpd_log.read_text(),
        ),
    ):
        relay = Controller(Relay(smtpd_port), hostname="127.0.0.1", port=free_port())
        relay.start()
        try:
            yield base, relay.port, mailbox
        finally:
            relay.stop()


class Api:
    def __init__(self, base: str, client: httpx.AsyncClient) -> None:
        self.base = base
        self.client = client
        self.token: str | None = None

    async def __call__(self, query: str, variables: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = await self.client.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    async def sign_in(self, email: str, password: str) -> None:
        data = await self(
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) {"
            " token errors { code } } }",
            {"e": email, "p": password},
        )
        self.token = data["login"]["token"]
        assert self.token, data

    async def upload(self, query: str, variables: dict, files: dict[str, tuple]) -> dict:
        """The GraphQL multipart request: `files` maps a variable path to (name, bytes, type)."""
        operations = orjson.dumps({"query": query, "variables": variables})
        mapping = orjson.dumps({str(i): [path] for i, path in enumerate(files)})
        parts = {str(i): file for i, file in enumerate(files.values())}
        answer = await self.client.post(
            f"{self.base}/graphql",
            data={"operations": operations.decode(), "map": mapping.decode()},
            files=parts,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return answer.json()


async def mail_to(mailbox: Mailbox, address: str, count: int) -> list[EmailMessage]:
    """The first `count` mails Guichet sent to `address`, once they are there."""
    async with asyncio.timeout(30):
        while True:
            mails = [m for m in mailbox.messages if address in str(m["To"])]
            if len(mails) >= count:
                return mails
            await asyncio.sleep(0.1)


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def send(relay_port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", relay_port, timeout=10) as client:
        assert client.send_message(mail) == {}


COMMENTS = """query($n: Int!) { ticket(number: $n) { id status via requester { email }
  comments(first: 20) { edges { node { body via author { email } } } }
  satisfaction { score } } }"""


async def comments_once(api: Api, number: int, count: int) -> dict:
    async with asyncio.timeout(30):
        while True:
            ticket = (await api(COMMENTS, {"n": number}))["ticket"]
            if ticket and len(ticket["comments"]["edges"]) >= count:
                return ticket
            await asyncio.sleep(0.1)


async def test_a_customer_mails_in_is_answered_rates_and_shares_a_screenshot(deployment):
    base, relay_port, mailbox = deployment
    async with httpx.AsyncClient(timeout=60) as client:
        agent, customer = Api(base, client), Api(base, client)
        await agent.sign_in("ana@acme.test", PASSWORD)

        # 1. Mail in a request; the receipt names its number and threads the conversation.
        await asyncio.to_thread(
            send, relay_port, customer_mail("Screen flickers", "My screen flickers since Monday.")
        )
        [receipt] = await mail_to(mailbox, CUSTOMER, 1)
        assert "[#1]" in receipt["Subject"]
        assert receipt["Reply-To"] and "support" in str(receipt["Reply-To"])
        ticket = await comments_once(agent, 1, 0)
        assert ticket["via"] == "EMAIL" and ticket["requester"]["email"] == CUSTOMER

        # 2. Reply with `#id` and with a plain reply to the receipt: both become comments.
        hash_id = "#id 1\n\nIt flickers more now.\n\nOn Monday, Acme Support wrote:\n> receipt"
        await asyncio.to_thread(send, relay_port, customer_mail("more", hash_id))
        plain = customer_mail(
            f"Re: {receipt['Subject']}",
            "Also after a reboot.\n\n-- \nCarla",
            In_Reply_To=receipt["Message-ID"],
            References=receipt["Message-ID"],
        )
        await asyncio.to_thread(send, relay_port, plain)
        ticket = await comments_once(agent, 1, 2)
        bodies = sorted(e["node"]["body"].strip() for e in ticket["comments"]["edges"])
        assert bodies == ["Also after a reboot.", "It flickers more now."]
        assert {e["node"]["via"] for e in ticket["comments"]["edges"]} == {"EMAIL"}

        # 3. The agent answers and solves; the customer gets both, the survey with the notice.
        me = (await agent("{ me { id } }"))["me"]["id"]
        reply = await agent(
            'mutation($t: ID!) { addComment(input: {ticketId: $t, body: "Try a new cable."})'
            " { errors { code } } }",
            {"t": ticket["id"]},
        )
        assert reply["addComment"]["errors"] == []
        solved = await agent(
            "mutation($t: ID!, $a: ID!) { updateTicket(input: {id: $t, assigneeId: $a,"
            " status: SOLVED}) { errors { code } } }",
            {"t": ticket["id"], "a": me},
        )
        assert solved["updateTicket"]["errors"] == []
        mails = await mail_to(mailbox, CUSTOMER, 3)
        answer, notice = mails[1], mails[2]
        assert "Try a new cable." in text_of(answer)
        assert "Ana Agent" in str(answer["From"])
        assert receipt["Message-ID"] in str(answer["References"])

        # 4. Rate from the survey mail: the GOOD link's page, then its button.
        good = next(
            unescape(u) for u in re.findall(r"https?://\S+", text_of(notice)) if "GOOD" in u
        )
        assert good.startswith(f"{base}/satisfaction")
        page = await client.get(good)
        assert page.status_code == 200
        token = parse_qs(urlsplit(good).query)["token"][0]
        rated = await client.post(
            f"{base}/satisfaction", data={"token": token, "score": "GOOD", "comment": "Quick!"}
        )
        assert rated.status_code == 200, rated.text
        assert (await agent(COMMENTS, {"n": 1}))["ticket"]["satisfaction"] == {"score": "GOOD"}

        # 5. The customer sets a password from a reset mail and shares a screenshot.
        asked = await customer(
            "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { accepted } }",
            {"e": CUSTOMER},
        )
        assert asked["requestPasswordReset"]["accepted"] is True
        reset_mail = (await mail_to(mailbox, CUSTOMER, 4))[3]
        reset_link = next(u for u in re.findall(r"https?://\S+", text_of(reset_mail)))
        reset_token = parse_qs(urlsplit(unescape(reset_link)).query)["token"][0]
        reset = await customer(
            "mutation($t: String!, $p: String!) { resetPassword(input: {token: $t,"
            " newPassword: $p}) { token errors { code } } }",
            {"t": reset_token, "p": PASSWORD},
        )
        customer.token = reset["resetPassword"]["token"]
        assert customer.token, reset

        screenshot = b"\x89PNG\r\n\x1a\n" + os.urandom(200_000)
        filed = await customer.upload(
            'mutation($files: [Upload!]) { createTicket(input: {subject: "Screenshot",'
            ' description: "Here it is", attachments: $files}) { ticket { number attachments'
            " { id filename size url } } errors { code } } }",
            {"files": [None]},
            {"variables.files.0": ("screen.png", screenshot, "image/png")},
        )
        assert filed["data"]["createTicket"]["errors"] == [], filed
        [attachment] = filed["data"]["createTicket"]["ticket"]["attachments"]
        assert (attachment["filename"], attachment["size"]) == ("screen.png", len(screenshot))
        download = await client.get(
            attachment["url"], headers={"Authorization": f"Bearer {customer.token}"}
        )
        assert download.status_code == 200 and download.content == screenshot
        assert download.headers["content-disposition"].startswith("attachment")

        # 6. A 51 MB file is refused, and nothing is filed.
        big = await customer.upload(
            'mutation($files: [Upload!]) { createTicket(input: {subject: "Big",'
            ' description: "A big file", attachments: $files}) { ticket { id }'
            " errors { code } } }",
            {"files": [None]},
            {
                "variables.files.0": (
                    "big.bin",
                    b"\0" * (51 * 1024 * 1024),
                    "application/octet-stream",
                )
            },
        )
        assert big["data"]["createTicket"]["ticket"] is None
        assert [e["code"] for e in big["data"]["createTicket"]["errors"]] == ["FILE_TOO_LARGE"]
        mine = await customer("{ tickets(first: 10) { totalCount } }")
        assert mine["tickets"]["totalCount"] == 2
