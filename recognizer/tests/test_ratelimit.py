"""Per-client budgets on predictions and saved drawings (429 with Retry-After, nothing stored beyond them), and
on failed admin sign-ins per address and per username."""

import re
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from mnistsite.settings import env_budget
from recognizer.models import Sample
from recognizer.ratelimit import Budget, WindowCounts
from recognizer.tests.drawings import as_upload, canvas_png

SEVEN = canvas_png()


def at_the_start_of_a_window(seconds: int) -> None:
    """Budgets renew at whole multiples of their window: start a test well inside one."""
    into = time.time() % seconds
    if into > seconds - 5 or (seconds < 5 and into > 0.2):
        time.sleep(seconds - into + 0.01)


@pytest.fixture
def budgets(settings, active_model_version, tmp_path):
    at_the_start_of_a_window(60)
    settings.RATE_LIMIT_STORE = tmp_path / "ratelimit.sqlite3"
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMITS = {"predict": Budget(5, 60), "samples": Budget(3, 60), "login": Budget(10, 60),
                           "train": Budget(20, 60), "reads": Budget(8, 60)}
    return settings


def predict(client: Client, data: bytes = SEVEN, **extra):
    return client.post("/api/predict", {"file": as_upload(data)}, **extra)


def test_predictions_past_the_budget_get_429_with_retry_after(budgets):
    client = Client()
    assert [predict(client).status_code for _ in range(5)] == [200] * 5
    refused = predict(client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert f"Wait {refused['Retry-After']} s" in refused.json()["error"]


def test_reading_a_whole_number_spends_the_same_budget_as_predicting(budgets):
    client = Client()
    assert [predict(client).status_code for _ in range(3)] == [200] * 3
    read = [client.post("/api/read", {"file": as_upload(SEVEN)}).status_code for _ in range(3)]
    assert read == [200, 200, 429]


def test_refused_requests_count_too_and_are_refused_before_the_body_is_read(budgets):
    client = Client()
    assert [predict(client, b"not an image").status_code for _ in range(5)] == [400] * 5
    assert predict(client, b"not an image").status_code == 429  # a flood of junk is throttled like any other


def test_each_client_address_has_its_own_budget(budgets):
    first, second = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for _ in range(5):
        predict(first)
    assert predict(first).status_code == 429
    assert predict(second).status_code == 200


def test_saving_past_the_budget_gets_429_and_stores_nothing_more(budgets):
    client = Client()
    saved = [client.post("/api/samples", {"file": as_upload(SEVEN), "label": "7"}).status_code for _ in range(4)]
    assert saved == [201, 201, 201, 429]
    assert Sample.objects.count() == 3
    listing = client.get("/api/samples")  # reading, like deleting, is never counted
    assert listing.status_code == 200 and listing.json()["total"] == 3


def test_predictions_and_saves_have_separate_budgets(budgets):
    client = Client()
    for _ in range(5):
        predict(client)
    assert predict(client).status_code == 429
    assert client.post("/api/samples", {"file": as_upload(SEVEN), "label": "7"}).status_code == 201


def test_the_budget_renews_after_the_window(budgets):
    budgets.RATE_LIMITS = {**budgets.RATE_LIMITS, "predict": Budget(2, 1)}
    client = Client()
    at_the_start_of_a_window(1)
    predict(client), predict(client)
    refused = predict(client)
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    time.sleep(1.05)
    assert predict(client).status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_budget(budgets):
    client = Client(REMOTE_ADDR="10.0.0.9")
    codes = [predict(client, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code for i in range(6)]
    assert codes == [200] * 5 + [429]  # no trusted proxy: the header is the client's own claim


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(budgets):
    budgets.NUM_PROXIES = 1
    proxy = Client(REMOTE_ADDR="10.0.0.254")
    for _ in range(5):
        predict(proxy, HTTP_X_FORWARDED_FOR="forged, 198.51.100.7")
    assert predict(proxy, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert predict(proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


def test_budgets_can_be_turned_off(budgets):
    budgets.RATE_LIMIT_ENABLED = False
    client = Client()
    assert {predict(client).status_code for _ in range(8)} == {200}


def test_a_budget_is_read_from_the_environment_and_nonsense_is_refused(monkeypatch):
    monkeypatch.setenv("SOME_BUDGET", "120/60")
    assert env_budget("SOME_BUDGET", "1/1") == Budget(120, 60)
    for nonsense in ("lots", "0/60", "10/0", "10/-1"):
        monkeypatch.setenv("SOME_BUDGET", nonsense)
        with pytest.raises(ImproperlyConfigured, match="SOME_BUDGET"):
            env_budget("SOME_BUDGET", "1/1")


def test_every_process_counts_into_one_store(tmp_path):
    store = tmp_path / "ratelimit.sqlite3"
    worker_a, worker_b = WindowCounts(store), WindowCounts(store)  # two connections, as two web processes hold
    expires = time.time() + 60
    assert [worker_a.hit("predict:10.0.0.1:60:1", expires), worker_b.hit("predict:10.0.0.1:60:1", expires),
            worker_a.hit("predict:10.0.0.1:60:1", expires)] == [1, 2, 3]
    assert worker_b.hit("predict:10.0.0.2:60:1", expires) == 1


def test_ended_windows_are_forgotten(tmp_path):
    counts = WindowCounts(tmp_path / "ratelimit.sqlite3")
    counts.hit("old", time.time() - 1)
    counts.hit("new", time.time() + 60)  # a new window clears the ended ones
    assert counts.hit("old", time.time() + 60) == 1


def test_a_broken_store_lets_requests_through_rather_than_failing_them(budgets, tmp_path, caplog):
    budgets.RATE_LIMIT_STORE = tmp_path / "not-a-database"
    budgets.RATE_LIMIT_STORE.write_bytes(b"this is not SQLite " * 100)
    assert predict(Client()).status_code == 200
    assert "Rate limit store" in caplog.text


THROTTLED = "Too many failed sign-ins for this account or from your address. Wait "
WRONG = "Please enter the correct username and password"


@pytest.fixture
def staff(django_user_model):
    for name in ("alice", "bob"):
        django_user_model.objects.create_user(name, password=f"{name}'s right password", is_staff=True)


def sign_in(address: str, username: str, right: bool = False):
    """One sign-in at the admin from ``address``: the page, or the redirect into the admin."""
    password = f"{username}'s right password" if right else "a wrong guess"
    return Client(REMOTE_ADDR=address).post("/admin/login/", {"username": username, "password": password,
                                                              "next": "/admin/"})


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_failed_sign_ins_past_the_budget_are_refused_even_with_the_right_password(budgets, staff):
    for _ in range(10):
        wrong = sign_in("10.0.0.1", "alice")
        assert wrong.status_code == 200 and WRONG in wrong.content.decode()
    refused = sign_in("10.0.0.1", "alice", right=True)
    assert refused.status_code == 200 and not signed_in(refused)
    wait = int(re.search(rf"{THROTTLED}(\d+) s, then try again.", refused.content.decode())[1])
    assert 1 <= wait <= 60
    assert signed_in(sign_in("10.0.0.2", "bob", right=True))  # another person elsewhere is not held up


def test_the_username_budget_holds_when_the_guesser_rotates_addresses(budgets, staff):
    for i in range(10):
        sign_in(f"192.0.2.{i}", "alice")
    assert THROTTLED in sign_in("198.51.100.1", "alice", right=True).content.decode()
    assert THROTTLED in sign_in("198.51.100.1", "ALICE", right=True).content.decode()  # nor by changing case
    assert signed_in(sign_in("198.51.100.1", "bob", right=True))


def test_the_address_budget_holds_when_the_guesser_rotates_usernames(budgets, staff):
    for i in range(10):
        sign_in("10.0.0.1", f"user{i}")
    assert THROTTLED in sign_in("10.0.0.1", "alice", right=True).content.decode()
    assert signed_in(sign_in("10.0.0.2", "alice", right=True))


def test_only_failures_count(budgets, staff):
    assert all(signed_in(sign_in("10.0.0.1", "alice", right=True)) for _ in range(12))
    for _ in range(9):
        sign_in("10.0.0.1", "alice")
    assert signed_in(sign_in("10.0.0.1", "alice", right=True))


def test_every_failed_sign_in_is_logged_with_the_username_and_address(budgets, staff, caplog):
    sign_in("10.0.0.1", "alice")
    assert "Failed sign-in as 'alice' from 10.0.0.1" in caplog.text


def test_sign_in_budgets_hold_with_request_budgets_turned_off(budgets, staff):
    budgets.RATE_LIMIT_ENABLED = False  # for load benchmarks and shared addresses, not for password guessing
    for _ in range(10):
        sign_in("10.0.0.1", "alice")
    assert THROTTLED in sign_in("10.0.0.1", "alice", right=True).content.decode()
