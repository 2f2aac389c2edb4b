"""Input validation: every way a client may send a drawing ends up as one DrawingForm; the admin's sign-in
form refuses a username or an address after too many wrong passwords."""

import base64
import binascii
import json
import logging
import re
from urllib.parse import unquote_to_bytes

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import BadRequest, SuspiciousOperation, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from .exceptions import Refusal
from .ml.numbers import MAX_DIGITS_PER_NUMBER
from .ratelimit import CountsUnavailable, client_address, failure_record, failures_wait

logger = logging.getLogger(__name__)

# The scheme and the base64 marker are case-insensitive (RFC 2397 / RFC 3986).
DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<base64>;base64)?,(?P<payload>.*)$",
                      re.S | re.I)
HOW_TO_SEND = ("Send the image as multipart form data in the field 'file', as JSON {\"image\": \"data:image/png;"
               "base64,...\"}, as a form field 'image' holding a data URL, or as a raw image body.")


class RequestRefused(Refusal):
    """The request cannot be read at all (its body, its content type): 400, or ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decode_data_url(value: str) -> bytes:
    match = DATA_URL.match(value.strip())
    if match is None:
        raise ValidationError("The image must be a data URL such as data:image/png;base64,iVBORw0…",
                              code="malformed_data_url")
    payload = match["payload"]
    if match["base64"]:
        text = re.sub(r"\s+", "", payload)
        try:
            # Some encoders leave out the trailing '=' padding; the length says how much is missing.
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("The data URL's base64 text is damaged.", code="malformed_data_url") from None
    else:
        data = unquote_to_bytes(payload)
    if not data:
        raise ValidationError("The data URL holds no image data.", code="empty")
    return data


class ApiForm(forms.Form):
    """A form whose errors are answered as one line of an API error."""

    def first_error(self) -> str:
        """The first problem, for a one-line API error."""
        for errors in self.errors.as_data().values():
            return errors[0].messages[0]
        return "The request is invalid."


class DrawingForm(ApiForm):
    file = forms.FileField(required=False, allow_empty_file=False)
    image = forms.CharField(required=False, strip=True)

    def clean_image(self) -> bytes | None:
        value = self.cleaned_data["image"]
        return decode_data_url(value) if value else None

    def clean(self) -> dict:
        cleaned = super().clean()
        upload, data_url_bytes = cleaned.get("file"), cleaned.get("image")
        if self.errors:
            return cleaned
        if upload and data_url_bytes:
            raise ValidationError("Send the image once: either a file or a data URL, not both.", code="ambiguous")
        if not upload and data_url_bytes is None:
            raise ValidationError(f"No image was sent. {HOW_TO_SEND}", code="missing")
        cleaned["image_bytes"] = upload.read() if upload else data_url_bytes
        return cleaned



def drawing_form_from_request(request: HttpRequest, *, form_class: type[DrawingForm] = DrawingForm) -> DrawingForm:
    """Build a DrawingForm from a multipart, form-encoded, JSON or raw-image request body."""
    content_type = request.content_type or ""
    try:
        if content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            return form_class(request.POST, request.FILES)
        if content_type == "application/json":
            return form_class(_fields_from_json(request.body))
        if content_type.startswith("image/") or content_type == "application/octet-stream":
            # A raw body carries only the image; anything else (a label) comes in the query string.
            files = {"file": SimpleUploadedFile("upload", request.body)} if request.body else {}
            return form_class(request.GET, files)
    except MultiPartParserError:
        raise RequestRefused("The multipart form data is malformed.") from None
    except SuspiciousOperation:  # Django's TooManyFieldsSent, TooManyFilesSent
        raise RequestRefused("The form has far too many fields or files; send one image.") from None
    except BadRequest:  # a charset Django cannot decode, among others
        raise RequestRefused("The form data cannot be read; send it as UTF-8.") from None
    if not request.body:
        raise RequestRefused(f"The request body is empty. {HOW_TO_SEND}")
    raise RequestRefused(f"Content type {content_type or '(none)'} is not understood. {HOW_TO_SEND}", status=415)


def _fields_from_json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused("The request body is not valid JSON.") from None
    except RecursionError:  # nested thousands deep: valid JSON, but no drawing looks like that
        raise RequestRefused('The JSON body is nested far too deeply; send {"image": "data:..."}.') from None
    if not isinstance(payload, dict) or "image" not in payload:
        raise RequestRefused('The JSON body must be an object with an "image" data URL.')
    if not isinstance(payload["image"], str):
        raise RequestRefused('The JSON field "image" must be a data URL string.')
    return {key: value for key, value in payload.items() if isinstance(value, (str, int, float)) and not isinstance(value, bool)}


class SampleForm(DrawingForm):
    label = forms.IntegerField(
        min_value=0, max_value=9,
        error_messages={
            "required": "Say which digit this is: a label from 0 to 9 is required.",
            "invalid": "The label must be a digit from 0 to 9.",
            "min_value": "The label must be a digit from 0 to 9.",
            "max_value": "The label must be a digit from 0 to 9.",
        },
    )


class NumberSamplesForm(DrawingForm):
    labels = forms.RegexField(
        regex=rf"^[0-9]{{1,{MAX_DIGITS_PER_NUMBER}}}$",
        error_messages={
            "required": "Say which digits these are: labels such as \"2026\", one digit per digit drawn, left to right.",
            "invalid": f"The labels must be 1 to {MAX_DIGITS_PER_NUMBER} digits (0-9), one per digit drawn, left to "
                       "right, such as \"2026\".",
        },
    )


def sample_form_from_request(request: HttpRequest) -> SampleForm:
    """Like drawing_form_from_request, with the label beside the image (a form field or a JSON key)."""
    return drawing_form_from_request(request, form_class=SampleForm)


def number_samples_form_from_request(request: HttpRequest) -> NumberSamplesForm:
    """Like drawing_form_from_request, with the labels of the number's digits beside the image."""
    return drawing_form_from_request(request, form_class=NumberSamplesForm)


class ThrottledSignInForm(AdminAuthenticationForm):
    """The admin's sign-in form, counting failed sign-ins per client address and per username
    (settings.RATE_LIMITS["login"]). Past either budget it refuses before checking the password, so a guesser
    learns nothing more even with the right one, whichever addresses or usernames it rotates through. When the
    store of failures cannot be read it refuses every sign-in (fails closed) rather than count nothing."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins for this account or from your address. Wait %(wait)s s, then try "
                     "again.",
        "unavailable": "Sign-in is unavailable for a moment; try again shortly.",
    }

    def clean(self) -> dict:
        username, address = self.cleaned_data.get("username"), client_address(self.request)
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # a missing field is a form error, not a guess
        keys = [f"address:{address}", f"user:{username.casefold()}"]
        try:
            wait = failures_wait("login", keys)
        except CountsUnavailable:
            raise ValidationError(self.error_messages["unavailable"], code="unavailable") from None
        if wait is not None:
            logger.warning("Sign-in as %r from %s refused unchecked: too many failures", username, address)
            raise ValidationError(self.error_messages["throttled"], code="throttled", params={"wait": wait})
        try:
            return super().clean()
        except ValidationError:
            failure_record("login", keys)
            logger.warning("Failed sign-in as %r from %s", username, address)
            raise


class ModelChoiceForm(ApiForm):
    use = forms.ChoiceField(
        choices=[("personal", "your personal model"), ("shared", "the shared model")],
        error_messages={"required": 'Say which model should read your drawings: "use" is "personal" or "shared".',
                        "invalid_choice": '"use" must be "personal" or "shared".'},
    )


def model_choice_form_from_request(request: HttpRequest) -> ModelChoiceForm:
    """A ModelChoiceForm from a JSON object or a form-encoded body."""
    if (request.content_type or "") != "application/json":
        return ModelChoiceForm(request.POST)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestRefused('The request body is not valid JSON; send {"use": "personal"} or {"use": "shared"}.') \
            from None
    return ModelChoiceForm(payload if isinstance(payload, dict) else {})


class ReviewDecisionForm(forms.Form):
    """One click in the review queue: approve, reject, or relabel (to a digit from 0 to 9) one sample."""

    DECISIONS = [("approve", "Approve"), ("reject", "Reject"), ("relabel", "Relabel")]
    sample = forms.IntegerField(min_value=1)
    decision = forms.ChoiceField(choices=DECISIONS)
    label = forms.IntegerField(required=False, min_value=0, max_value=9,
                               error_messages={"min_value": "A label is a digit from 0 to 9.",
                                               "max_value": "A label is a digit from 0 to 9.",
                                               "invalid": "A label is a digit from 0 to 9."})

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("decision") == "relabel" and cleaned.get("label") is None and not self.errors:
            raise ValidationError("Say which digit to relabel it as: 0 to 9.", code="label_missing")
        return cleaned
