"""The ten official vectors through the project's own crypto path (wechat.protocol)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from wechat.protocol import MessageCrypto, Rejected, sign
from tests.wechat_peer import SAMPLES

VECTORS = json.loads((SAMPLES / "crypto_vectors.json").read_text(encoding="utf-8"))["vectors"]


def by_kind(*kinds):
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] in kinds]


def test_all_ten_vectors_are_covered():
    covered = {v["id"] for v in VECTORS if v["kind"] in ("url_signature", "encrypt", "decrypt", "decrypt+encrypt", "wecom_verify_url", "wecom_decrypt")}
    assert len(VECTORS) == 10 and len(covered) == 10


@pytest.mark.parametrize("vector", by_kind("url_signature"))
def test_url_signature(vector):
    assert sign(vector["token"], vector["timestamp"], vector["nonce"]) == vector["expected_signature"]


@pytest.mark.parametrize("vector", by_kind("encrypt"))
def test_encrypt_with_fixed_random(vector):
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])
    envelope = ET.fromstring(
        crypto.encrypt(vector["plaintext"], vector["nonce"], vector["timestamp"], random=vector["random"]).encode()
    )
    assert envelope.findtext("Encrypt") == vector["expected_encrypt"]
    assert envelope.findtext("MsgSignature") == vector["expected_msg_signature"]
    body = f"<xml><Encrypt><![CDATA[{vector['expected_encrypt']}]]></Encrypt></xml>".encode()
    assert crypto.decrypt(body, vector["expected_msg_signature"], vector["timestamp"], vector["nonce"]) == vector["plaintext"]


@pytest.mark.parametrize("vector", by_kind("decrypt", "decrypt+encrypt"))
def test_decrypt_official_body(vector):
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])
    plaintext = crypto.decrypt(vector["post_body"].encode(), vector["msg_signature"], vector["timestamp"], vector["nonce"])
    assert plaintext == vector["expected_plaintext"]
    if "expected_plaintext_bytes" in vector:
        assert len(plaintext.encode()) == int(vector["expected_plaintext_bytes"])


@pytest.mark.parametrize("vector", by_kind("decrypt+encrypt"))
def test_reply_encrypt_matches_doc(vector):
    reply = vector["reply"]
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])
    envelope = ET.fromstring(crypto.encrypt(reply["plaintext"], reply["nonce"], reply["timestamp"], random=reply["random"]).encode())
    assert envelope.findtext("Encrypt") == reply["expected_encrypt"]
    assert envelope.findtext("MsgSignature") == reply["expected_msg_signature"]


@pytest.mark.parametrize("vector", by_kind("wecom_decrypt"))
def test_wecom_samples_share_the_scheme(vector):
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["receive_id"])
    plaintext = crypto.decrypt(vector["post_body"].encode(), vector["msg_signature"], vector["timestamp"], vector["nonce"])
    assert plaintext == vector["expected_plaintext"]


@pytest.mark.parametrize("vector", by_kind("wecom_verify_url"))
def test_wecom_echostr(vector):
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["receive_id"])
    body = f"<xml><Encrypt><![CDATA[{vector['echostr']}]]></Encrypt></xml>".encode()
    assert crypto.decrypt(body, vector["msg_signature"], vector["timestamp"], vector["nonce"]) == vector["expected_echo_plaintext"]


def test_a_vector_with_another_appid_is_refused():
    vector = next(v for v in VECTORS if v["id"] == "mp_decrypt_cpp_sample")
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], "wx0000000000000000")
    with pytest.raises(Rejected) as refused:
        crypto.decrypt(vector["post_body"].encode(), vector["msg_signature"], vector["timestamp"], vector["nonce"])
    assert refused.value.status == 400


def test_a_tampered_signature_is_refused():
    vector = next(v for v in VECTORS if v["id"] == "mp_decrypt_cpp_sample")
    crypto = MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])
    with pytest.raises(Rejected) as refused:
        crypto.decrypt(vector["post_body"].encode(), "0" * 40, vector["timestamp"], vector["nonce"])
    assert refused.value.status == 403
