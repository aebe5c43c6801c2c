"""Identity's rules: logins, phone numbers, passwords, password hashes and access tokens."""
from __future__ import annotations

import time

import json
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from platform_kit.auth import (
    AUDIENCE,
    ISSUER,
    SERVICE,
    Principal,
    TokenVerifier,
    principal_from_authorization,
)
from platform_kit.errors import InvalidArgument, Unauthenticated
from services.identity.credentials import SigningKeys, hash_password, verify_password
from services.identity.people import check_password, login_stem, normalise_phone

# -- logins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "stem"),
    [
        ("Łucja", "Żółć-Nowak", "lucja.zolcnowak"),
        ("Jan", "Kowalski-Nowak", "jan.kowalskinowak"),
        ("ŚWIĘTOSŁAW", "Gęślą", "swietoslaw.gesla"),
        ("Anna Maria", "O'Brien", "annamaria.obrien"),
        ("René", "Müller", "rene.muller"),
    ],
)
def test_login_stem(first, last, stem):
    assert login_stem(first, last) == stem


def test_login_stem_without_letters_is_user():
    assert login_stem("123", "!!!") == "user"


def test_login_stem_is_at_most_50_characters():
    assert len(login_stem("a" * 40, "b" * 40)) == 50


# -- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("600 100 200", "+48600100200"),
        ("600-100-200", "+48600100200"),
        ("600100200", "+48600100200"),
        ("0048600100200", "+48600100200"),
        ("+48 600 100 200", "+48600100200"),
        ("+441234567890", "+441234567890"),
        ("(+48) 600 100 200", "+48600100200"),
    ],
)
def test_normalise_phone(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", None])
def test_no_phone_stays_empty(raw):
    assert normalise_phone(raw) == ""


@pytest.mark.parametrize("raw", ["12", "60010020", "+0486001002", "phone", "+48 600 100 200 300 400", "++48600100200"])
def test_malformed_phone_names_the_phone_field(raw):
    with pytest.raises(InvalidArgument) as caught:
        normalise_phone(raw)

    assert set(caught.value.field_errors) == {"phone"}


# -- password rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [8, 9, 63, 64])
def test_password_length_accepted(length):
    check_password(("kV7#mQ2$wZ" * 7)[:length])  # no exception


@pytest.mark.parametrize(
    "password",
    ["haslo1234", "Password1!", "qwertyuiop", "słoneczko123456", "Katarzyna1985!", "Warszawa2024!", "12345678"],
)
def test_common_or_guessable_passwords_are_weak(password):
    with pytest.raises(InvalidArgument) as caught:
        check_password(password)
    assert caught.value.code == "weak_password" and "password" in caught.value.field_errors


def test_a_password_made_of_the_accounts_own_data_is_weak():
    check_password("Wrzesniewska#1985")  # fine for somebody else
    with pytest.raises(InvalidArgument):
        check_password("Wrzesniewska#1985", personal=("bogumila", "wrzesniewska"))


def test_a_passphrase_of_unrelated_words_is_accepted():
    check_password("ptaszek-na-zielonym-rowerze")


@pytest.mark.parametrize("length", [0, 7, 65, 200])
def test_password_length_refused_as_weak_password(length):
    with pytest.raises(InvalidArgument) as caught:
        check_password("p" * length)

    assert caught.value.code == "weak_password"
    assert set(caught.value.field_errors) == {"password"}


# -- password hashes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password("Zażółć-gęślą-jaźń 1")


def test_password_round_trip(stored_hash):
    assert verify_password(stored_hash, "Zażółć-gęślą-jaźń 1") is True


@pytest.mark.parametrize("attempt", ["zażółć-gęślą-jaźń 1", "Zażółć-gęślą-jaźń", "", "Zazolc-gesla-jazn 1"])
def test_wrong_password_is_false(stored_hash, attempt):
    assert verify_password(stored_hash, attempt) is False


def test_missing_hash_is_false():
    assert verify_password(None, "anything at all") is False


def test_garbage_hash_is_false():
    assert verify_password("not-a-hash", "anything at all") is False


def test_same_password_hashes_differently(stored_hash):
    assert hash_password("Zażółć-gęślą-jaźń 1") != stored_hash  # a fresh salt each time


def test_hash_uses_owasp_argon2id_parameters(stored_hash):
    # $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
    _, variant, version, parameters, salt, digest = stored_hash.split("$")
    assert variant == "argon2id"
    assert version == "v=19"
    assert dict(item.split("=") for item in parameters.split(",")) == {"m": "19456", "t": "2", "p": "1"}
    assert salt and digest


# -- access tokens -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys(dict([SigningKeys.generate()]))


def _verifier(keys: SigningKeys) -> TokenVerifier:
    return TokenVerifier(keys.jwks_json)


def _token(keys: SigningKeys, ttl=timedelta(minutes=15), **overrides) -> str:
    values = {"user_id": "u-1", "school_id": "school-1", "roles": ["teacher", "parent"], "session_id": "sess-1"}
    values.update(overrides)
    return keys.access_token(ttl=ttl, **values)


def test_access_token_verifies_to_the_principal(keys):
    principal = _verifier(keys).verify(_token(keys))

    assert principal == Principal(
        user_id="u-1", school_id="school-1", roles=frozenset({"teacher", "parent"}), session_id="sess-1"
    )
    assert principal.is_service is False


def test_superadmin_token_has_no_school(keys):
    principal = _verifier(keys).verify(_token(keys, school_id=None, roles=["superadmin"]))

    assert principal.school_id is None
    assert principal.roles == frozenset({"superadmin"})


def test_jwks_holds_public_keys_only(keys):
    jwks = json.loads(keys.jwks_json())

    [key] = jwks["keys"]
    assert key["kid"] == keys.current_kid
    assert key["alg"] == "EdDSA"
    assert key["kty"] == "OKP"
    assert "d" not in key  # the private part never leaves identity


def test_token_from_another_key_set_is_refused(keys):
    other = SigningKeys(dict([SigningKeys.generate()]))

    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(_token(other))


def test_token_signed_by_another_key_under_a_known_kid_is_refused(keys):
    _, other_pem = SigningKeys.generate()
    impostor = SigningKeys({keys.current_kid: other_pem})

    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(_token(impostor))


def test_expired_token_is_refused(keys):
    with pytest.raises(Unauthenticated, match="expired"):
        _verifier(keys).verify(_token(keys, ttl=timedelta(seconds=-1)))


def test_tampered_token_is_refused(keys):
    header, payload, signature = _token(keys).split(".")
    forged_payload = jwt.utils.base64url_encode(
        json.dumps({**json.loads(jwt.utils.base64url_decode(payload)), "roles": ["superadmin"]}).encode()
    ).decode()

    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(f"{header}.{forged_payload}.{signature}")


def _signed(keys: SigningKeys, **claims) -> str:
    now = datetime.now(timezone.utc)
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + timedelta(minutes=5), "typ": "access"}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    private_key = keys._keys[keys.current_kid]
    return jwt.encode(base, private_key, algorithm="EdDSA", headers={"kid": keys.current_kid})


def test_hand_made_access_token_is_accepted(keys):
    # The control for the tests below: _signed() alone makes a token the verifier accepts.
    assert _verifier(keys).verify(_signed(keys)).user_id == "u-1"


@pytest.mark.parametrize(
    "claims",
    [
        {"typ": "refresh"},
        {"typ": "mfa"},
        {"typ": None},
        {"aud": "someone-else"},
        {"iss": "not-identity"},
        {"sub": None},
    ],
    ids=["typ refresh", "typ mfa", "no typ", "audience", "issuer", "no subject"],
)
def test_token_with_wrong_claims_is_refused(keys, claims):
    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(_signed(keys, **claims))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_malformed_token_is_refused(keys, token):
    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(token)


def test_unsigned_token_is_refused(keys):
    now = datetime.now(timezone.utc)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + timedelta(minutes=5), "typ": "access"}
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": keys.current_kid})

    with pytest.raises(Unauthenticated):
        _verifier(keys).verify(token)


def test_token_of_an_older_key_still_verifies_after_rotation():
    old_kid, old_pem = SigningKeys.generate()
    new_kid, new_pem = SigningKeys.generate()
    before = SigningKeys({old_kid: old_pem})
    after = SigningKeys({old_kid: old_pem, new_kid: new_pem})

    assert after.current_kid == new_kid  # the newest signs
    verifier = _verifier(after)
    assert verifier.verify(_token(before)).user_id == "u-1"
    assert jwt.get_unverified_header(_token(after))["kid"] == new_kid
    assert verifier.verify(_token(after)).user_id == "u-1"


def test_a_token_is_checked_once_and_refused_once_it_expires_even_if_kept(keys, monkeypatch):
    import jwt as pyjwt

    from platform_kit import auth

    checked = []
    decode = pyjwt.decode
    monkeypatch.setattr(pyjwt, "decode", lambda *args, **kwargs: checked.append(1) or decode(*args, **kwargs))
    verifier = _verifier(keys)
    token = _token(keys, ttl=timedelta(minutes=1))
    assert [verifier.verify(token).user_id for _ in range(3)] == ["u-1"] * 3
    assert len(checked) == 1  # the signature was checked once
    assert verifier.verify(_token(keys, user_id="u-2")).user_id == "u-2"  # another token: its own check
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)  # the kept token's expiry passed
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_verifier_fetches_keys_again_for_a_new_kid():
    old_kid, old_pem = SigningKeys.generate()
    new_kid, new_pem = SigningKeys.generate()
    published = {"keys": SigningKeys({old_kid: old_pem})}
    fetches = []

    def source() -> str:
        fetches.append(1)
        return published["keys"].jwks_json()

    verifier = TokenVerifier(source, refresh_interval=0)
    verifier.verify(_token(published["keys"]))
    published["keys"] = SigningKeys({old_kid: old_pem, new_kid: new_pem})  # identity rotated its key

    assert verifier.verify(_token(published["keys"])).user_id == "u-1"
    assert len(fetches) == 2


def test_verifier_does_not_refetch_keys_for_every_unknown_kid(keys):
    fetches = []

    def source() -> str:
        fetches.append(1)
        return keys.jwks_json()

    verifier = TokenVerifier(source, refresh_interval=60)
    verifier.verify(_token(keys))
    stranger = SigningKeys(dict([SigningKeys.generate()]))
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            verifier.verify(_token(stranger))

    assert len(fetches) == 1


# -- authorization metadata --------------------------------------------------------------------

SERVICE_TOKEN = "s3rvice-token-0123456789"


def test_no_authorization_is_no_principal():
    assert principal_from_authorization(None, None, SERVICE_TOKEN) is None
    assert principal_from_authorization("", None, SERVICE_TOKEN) is None


def test_service_token_is_the_service_principal():
    assert principal_from_authorization(f"Service {SERVICE_TOKEN}", None, SERVICE_TOKEN) is SERVICE


@pytest.mark.parametrize(
    "value",
    [
        f"Service {SERVICE_TOKEN[:-1]}",
        f"Service {SERVICE_TOKEN}0",
        f"Service {SERVICE_TOKEN.upper()}",
        "Service ",
        f"service {SERVICE_TOKEN}",
        f"Bearer {SERVICE_TOKEN}",
        SERVICE_TOKEN,
    ],
)
def test_anything_but_the_right_service_token_is_refused(value):
    with pytest.raises(Unauthenticated):
        principal_from_authorization(value, None, SERVICE_TOKEN)


def test_bearer_goes_to_the_verifier(keys):
    principal = principal_from_authorization(f"Bearer {_token(keys)}", _verifier(keys), SERVICE_TOKEN)

    assert principal.user_id == "u-1"
    assert principal.is_service is False


def test_bad_bearer_is_refused(keys):
    with pytest.raises(Unauthenticated):
        principal_from_authorization(f"Bearer {uuid.uuid4().hex}", _verifier(keys), SERVICE_TOKEN)
