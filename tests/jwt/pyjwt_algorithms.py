"""Every JWT algorithm channelhub accepts, with keys made by Python's
`cryptography` and tokens minted by PyJWT: an independent implementation of
what an application's server does. Starts the debug binary (or
$CHANNELHUB_BIN) on SQLite; exits non-zero on the first failure.

    python tests/jwt/pyjwt_algorithms.py      # needs: pip install 'pyjwt[crypto]'
"""

import json
import os
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import ADMIN, Server  # noqa: E402  (tests/harness.py)

SECRET = "pyjwt-hs-secret-0123456789abcdef0123456789"
AUDIENCE = "https://hub.test"
UNVERIFIED = "invalid JWT: unknown key or bad signature"


FAILURES = []
PASSES = 0


def check(condition, what):
    global PASSES
    if condition:
        PASSES += 1
    else:
        FAILURES.append(what)
        print(f"not ok - {what}", flush=True)


def key_pair(alg):
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate(), jwt.algorithms.OKPAlgorithm
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1()), jwt.algorithms.ECAlgorithm
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1()), jwt.algorithms.ECAlgorithm
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), jwt.algorithms.RSAAlgorithm


def main():
    server = Server("--jwt-secret", SECRET, "--jwt-audience", AUDIENCE)
    try:
        status, _ = server.call("POST", "/channels", ADMIN, {"id": "algs", "is_public": False})
        check(status == 201, "create the channel")
        now = int(time.time())
        claims = {"scopes": ["sub:algs", "pub:algs"], "iat": now, "exp": now + 300, "aud": AUDIENCE}
        rsa_private = None
        for alg in ["EdDSA", "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]:
            private, algorithm = key_pair(alg)
            if alg.startswith(("RS", "PS")):
                rsa_private = private
            public_jwk = json.loads(algorithm.to_jwk(private.public_key()))
            kid = f"k-{alg}"
            status, key = server.call("POST", "/keys", ADMIN, {"kid": kid, "jwk": public_jwk, "alg": alg})
            check(status == 201 and key["alg"] == alg, f"{alg}: the public JWK registers ({status} {key})")
            token = jwt.encode({**claims, "sub": alg}, private, algorithm=alg, headers={"kid": kid})
            status, event = server.call("POST", "/channels/algs/events", token, {"data": alg})
            check(status == 201 and event["publisher_id"] == alg, f"{alg}: a PyJWT token publishes ({status} {event})")
            status, page = server.call("GET", "/channels/algs/events", token)
            check(status == 200, f"{alg}: and reads the private channel ({status})")
            status, who = server.call("GET", "/whoami", token)
            check(status == 200 and who["kid"] == kid, f"{alg}: whoami names the key ({who})")
            # Signed by another key of the same kind, claiming this kid.
            other, _ = key_pair(alg)
            forged = jwt.encode({**claims, "sub": alg}, other, algorithm=alg, headers={"kid": kid})
            status, problem = server.call("GET", "/whoami", forged)
            check(status == 401 and problem["detail"] == UNVERIFIED, f"{alg}: a forged signature is refused ({problem})")
            # A private JWK is refused: nothing secret is stored.
            private_jwk = json.loads(algorithm.to_jwk(private))
            status, problem = server.call("POST", "/keys", ADMIN, {"kid": f"p-{alg}", "jwk": private_jwk})
            check(status == 400 and "private member" in problem["detail"], f"{alg}: a private JWK is refused ({problem})")
        # The pinned algorithm: an RS256 key's token signed PS256 is refused.
        token = jwt.encode({**claims, "sub": "x"}, rsa_private, algorithm="RS256", headers={"kid": "k-PS512"})
        status, problem = server.call("GET", "/whoami", token)
        check(status == 401, f"a token whose alg is not its key's is refused ({problem})")
        # Algorithm confusion: HS256 keyed with an RSA public key's PEM.
        from cryptography.hazmat.primitives import serialization
        pem = rsa_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        header = {"alg": "HS256", "kid": "k-RS256", "typ": "JWT"}
        import base64, hmac, hashlib
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps({**claims, "scopes": ["admin"]}).encode())
        confused = signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
        status, problem = server.call("GET", "/keys", confused)
        check(status == 401, f"HS256 signed with a public key is refused ({status} {problem})")
        # A 1024-bit RSA key is refused at registration.
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        status, problem = server.call("POST", "/keys", ADMIN, {
            "kid": "weak", "jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key()))})
        check(status == 400 and "2048" in problem["detail"], f"a 1024-bit RSA key is refused ({problem})")
        # The HS family with the server's secret.
        for alg in ["HS256", "HS384", "HS512"]:
            token = jwt.encode({**claims, "sub": alg}, SECRET, algorithm=alg)
            status, who = server.call("GET", "/whoami", token)
            check(status == 200 and who["subject"] == alg and who["kid"] is None, f"{alg}: the secret's token works ({who})")
            wrong = jwt.encode({**claims, "sub": alg}, SECRET + "x", algorithm=alg)
            status, problem = server.call("GET", "/whoami", wrong)
            check(status == 401 and problem["detail"] == UNVERIFIED, f"{alg}: a wrong secret is refused ({problem})")
        # exp, aud as PyJWT writes them.
        expired = jwt.encode({**claims, "exp": now - 120}, SECRET, algorithm="HS256")
        status, problem = server.call("GET", "/whoami", expired)
        check(status == 401 and "expired" in problem["detail"], f"an expired token says so ({problem})")
        elsewhere = jwt.encode({**claims, "aud": ["https://elsewhere"]}, SECRET, algorithm="HS256")
        status, problem = server.call("GET", "/whoami", elsewhere)
        check(status == 401 and "aud" in problem["detail"], f"another audience is refused ({problem})")
    finally:
        server.close()
    print(f"# pass {PASSES}\n# fail {len(FAILURES)}")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
