import csv
import io
import re
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from recognizer.exceptions import SiteFull
from recognizer.models import ModelVersion, Sample
from recognizer.services import spreadsheet_safe
from recognizer.versions import model_version_activate
from recognizer.admin_figures import percent

SAMPLES_URL = "/admin/recognizer/sample/"
VERSIONS_URL = "/admin/recognizer/modelversion/"


@pytest.fixture
def samples(make_sample):
    return [make_sample(session_key="a" * 32, label=7), make_sample(session_key="b" * 32, label=1,
                                                                    path=[(0.5, 0.0), (0.5, 1.0)]),
            make_sample(session_key="b" * 32, label=3)]  # a 7 drawn but labelled 3: the model disagrees


def act(client, url: str, action: str, objects, **extra):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects], **extra}, follow=True)


def test_the_changelist_shows_both_thumbnails_and_the_review_columns(admin_client, samples):
    page = admin_client.get(SAMPLES_URL).content.decode()
    for sample in samples:
        assert f'src="/media/{sample.drawing.name}"' in page
        assert f'src="/media/{sample.digit.name}"' in page
    assert "aaaaaaaa" in page and "bbbbbbbb" in page  # short session ids
    assert "Label, model read" in page and "By model&#x27;s reading" in page


def row_of(page: str, sample: Sample) -> str:
    """The sample list's row of ``sample``."""
    return re.search(rf'<tr>(?:(?!</tr>).)*value="{sample.pk}"(?:(?!</tr>).)*</tr>', page, re.S).group(0)


def test_the_list_marks_only_a_disagreement_and_says_what_the_model_read(admin_client, samples):
    page = admin_client.get(SAMPLES_URL).content.decode()
    disagreed, agreed = row_of(page, samples[2]), row_of(page, samples[0])
    assert re.search(r'reading__label">.*?3</strong><span class="reading__read reading__read--disagrees">⚠ read 7, '
                     r'\d+\.\d%</span>', disagreed)  # labelled 3, read as 7: a warning
    assert re.search(r'reading__label">.*?7</strong><span class="reading__read">read 7, \d+\.\d%</span>', agreed)
    assert "⚠" not in agreed and "reading__read--disagrees" not in agreed
    assert 'alt="True"' not in page and 'alt="False"' not in page  # no green ✓ / red ✗ icons to misread


def test_it_filters_the_samples_the_model_disagreed_with(admin_client, samples):
    page = admin_client.get(SAMPLES_URL, {"disagreed": "yes"}).content.decode()
    assert samples[2].digit.name in page
    assert samples[0].digit.name not in page
    assert "⚠ Another digit than the label" in page and page.count("reading__read--disagrees") == 1
    agreeing = admin_client.get(SAMPLES_URL, {"disagreed": "no"}).content.decode()
    assert samples[2].digit.name not in agreeing and "reading__read--disagrees" not in agreeing


def test_it_searches_by_session(admin_client, samples):
    page = admin_client.get(SAMPLES_URL, {"q": "aaaa"}).content.decode()
    assert samples[0].digit.name in page and samples[1].digit.name not in page


def test_approve_and_reject_actions(admin_client, samples):
    act(admin_client, SAMPLES_URL, "approve", samples[:2])
    act(admin_client, SAMPLES_URL, "reject", samples[2:])
    assert [Sample.objects.get(pk=s.pk).status for s in samples] == ["approved", "approved", "rejected"]


def test_relabel_action(admin_client, samples):
    response = act(admin_client, SAMPLES_URL, "relabel_as_7", samples[2:])
    assert "Relabelled 1 sample(s) as 7." in response.content.decode()
    assert Sample.objects.get(pk=samples[2].pk).label == 7


def test_bulk_delete_removes_rows_and_files(admin_client, samples, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, SAMPLES_URL, "delete_selected", samples[:2], post="yes")
    assert list(Sample.objects.values_list("pk", flat=True)) == [samples[2].pk]
    assert not any(default_storage.exists(s.drawing.name) or default_storage.exists(s.digit.name) for s in samples[:2])


def read_export(data: bytes) -> tuple[list[dict], set[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        return rows, set(archive.namelist())


def assert_export_matches_database(rows: list[dict], names: set[str], samples: list[Sample]) -> None:
    assert [int(r["id"]) for r in rows] == sorted(s.pk for s in samples)
    for row in rows:
        sample = Sample.objects.get(pk=row["id"])
        assert (int(row["label"]), int(row["predicted"]), row["status"]) == (sample.label, sample.predicted, sample.status)
        assert (row["verdict"], float(row["not_a_digit_score"])) == (sample.verdict, sample.not_a_digit_score)
        assert row["mnist_file"] in names and row["original_file"] in names


def test_export_action_gives_a_zip_whose_csv_matches_the_database(admin_client, samples):
    act(admin_client, SAMPLES_URL, "relabel_as_9", samples[:1])
    response = admin_client.post(SAMPLES_URL, {"action": "export_zip", "_selected_action": [s.pk for s in samples]})
    assert response["Content-Type"] == "application/zip"
    rows, names = read_export(response.content)
    assert_export_matches_database(rows, names, samples)
    assert rows[0]["label"] == "9"


def test_export_command_writes_the_same_zip(samples, tmp_path):
    Sample.objects.filter(pk=samples[0].pk).update(status="approved")
    call_command("export_samples", str(tmp_path / "out.zip"), "--status", "approved")
    rows, names = read_export((tmp_path / "out.zip").read_bytes())
    assert_export_matches_database(rows, names, samples[:1])


def test_the_export_csv_cannot_run_formulas_in_a_spreadsheet(make_sample, tmp_path):
    make_sample(session_key="=cmd|' /C calc'!A0xxxxxxxxx")
    call_command("export_samples", str(tmp_path / "out.zip"))
    rows, _ = read_export((tmp_path / "out.zip").read_bytes())
    assert rows[0]["session"] == "'=cmd|' /"  # a leading quote: the spreadsheet shows the text
    assert rows[0]["label"] == "7" and rows[0]["status"] == "new"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_starts_like_a_formula_is_quoted(text):
    assert spreadsheet_safe(text) == f"'{text}"


@pytest.mark.parametrize("value", [-0.25, -3, None, "aaaaaaaa", "mnist/1_label7.png", "2024-01-01T00:00:00+00:00"])
def test_numbers_and_harmless_text_are_exported_unchanged(value):
    assert spreadsheet_safe(value) == value


def test_the_detail_page_shows_the_drawing_large_and_provenance_read_only(admin_client, samples):
    page = admin_client.get(f"{SAMPLES_URL}{samples[0].pk}/change/").content.decode()
    assert 'width="280"' in page and samples[0].drawing.name in page
    assert 'name="label"' in page and 'name="predicted"' not in page and 'name="session_key"' not in page


@pytest.mark.parametrize("url", [SAMPLES_URL, VERSIONS_URL])
def test_non_staff_users_are_refused(client, django_user_model, url):
    user = django_user_model.objects.create_user("student", password="a long password 123")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_model_versions_are_listed_with_their_accuracy(admin_client, active_model_version):
    page = admin_client.get(VERSIONS_URL).content.decode()
    assert percent(active_model_version.figures.mnist_test.accuracy) in page


@pytest.fixture
def stored_version(active_model_version, tiny_checkpoint, store_version):
    return store_version("other.pt", tiny_checkpoint, parent=active_model_version)


def test_the_activate_action_rolls_back_to_a_stored_version(admin_client, stored_version, active_model_version):
    act(admin_client, VERSIONS_URL, "activate", [stored_version])
    assert ModelVersion.objects.get(is_active=True) == stored_version
    act(admin_client, VERSIONS_URL, "activate", [active_model_version])
    assert ModelVersion.objects.get(is_active=True) == active_model_version


def test_a_version_with_broken_weights_is_not_activated_and_says_why(admin_client, stored_version):
    stored_version.weights_path.write_bytes(b"broken")
    response = act(admin_client, VERSIONS_URL, "activate", [stored_version])
    assert "Not activated" in response.content.decode()
    assert ModelVersion.objects.get(is_active=True) != stored_version


def test_the_active_version_cannot_be_deleted(admin_client, active_model_version, stored_version):
    assert admin_client.post(f"{VERSIONS_URL}{active_model_version.pk}/delete/", {"post": "yes"}).status_code == 403
    act(admin_client, VERSIONS_URL, "delete_selected", [active_model_version, stored_version], post="yes")
    assert ModelVersion.objects.filter(pk=active_model_version.pk, is_active=True).exists()
    act(admin_client, VERSIONS_URL, "delete_selected", [stored_version], post="yes")
    assert list(ModelVersion.objects.all()) == [active_model_version]


def test_the_admin_shows_when_the_active_versions_weights_are_broken(admin_client, stored_version):
    model_version_activate(version=stored_version)
    assert "✗" not in admin_client.get(VERSIONS_URL).content.decode()
    stored_version.weights_path.unlink()
    for url in (VERSIONS_URL, f"{VERSIONS_URL}{stored_version.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert f"The active model {stored_version} cannot be loaded: weights file other.pt is missing" in page
        assert "✗ weights file other.pt is missing" in page


REVIEW_URL = f"{SAMPLES_URL}review/"
NEAR_CEILING = "9 of 10 unreviewed samples: at 10 the site stops keeping new drawings until some are reviewed or deleted."
AT_CEILING = ("The site has stopped keeping new drawings: 9 of 9 unreviewed samples, its ceiling "
              "(MAX_UNREVIEWED_SAMPLES). People can save again once some are reviewed or deleted.")


def test_the_sample_list_and_the_review_queue_say_why_saves_are_or_soon_will_be_refused(
        admin_client, make_sample, settings):
    nine = [make_sample(session_key=f"{n}" * 32, label=n) for n in range(9)]
    settings.MAX_UNREVIEWED_SAMPLES = 11  # 9 of 11 is under 90 %: nothing to say
    for url in (SAMPLES_URL, REVIEW_URL):
        assert "unreviewed samples" not in admin_client.get(url).content.decode()

    settings.MAX_UNREVIEWED_SAMPLES = 10
    for url in (SAMPLES_URL, REVIEW_URL):
        assert f'<li class="warning">{NEAR_CEILING}</li>' in admin_client.get(url).content.decode()

    settings.MAX_UNREVIEWED_SAMPLES = 9  # what the banner says is what saves meet
    with pytest.raises(SiteFull):
        make_sample(label=1)
    for url in (SAMPLES_URL, REVIEW_URL):
        assert f'<li class="error">{AT_CEILING}</li>' in admin_client.get(url).content.decode()

    act(admin_client, SAMPLES_URL, "approve", nine[:1])  # reviewed ones no longer count: 8 of 9 is under 90 %
    for url in (SAMPLES_URL, REVIEW_URL):
        assert "unreviewed samples" not in admin_client.get(url).content.decode()


def test_favicon_ico_is_answered_with_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/recognizer/favicon.ico"
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO
    assert client.get("/static/recognizer/favicon.svg").status_code == 200


@pytest.mark.parametrize("url", ["/admin/", SAMPLES_URL, VERSIONS_URL, "/admin/training/trainingrun/", "/"])
def test_every_page_links_the_sites_icon(admin_client, active_model_version, url):
    page = admin_client.get(url).content.decode()
    assert '<link rel="icon" href="/static/recognizer/favicon.svg" type="image/svg+xml">' in page
    assert '<link rel="icon" href="/static/recognizer/favicon.ico" sizes="16x16 32x32">' in page
    assert 'href="data:,"' not in page  # the empty icon that hid the missing one


def test_the_sign_in_page_links_the_sites_icon(client):
    assert 'href="/static/recognizer/favicon.svg"' in client.get("/admin/login/").content.decode()
