"""OAuth 1.0a request signatures (RFC 5849) checked as a platform checks them, with oauthlib.

X signs user-context requests this way: HMAC-SHA1 over the method, the URL the client
addressed (the platform's own host, whatever proxy the request went through) and the
parameters; a JSON body is not signed.
"""

from __future__ import annotations

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature


def oauth1_problem(method: str, url: str, authorization: str | None, *, consumer_key: str, consumer_secret: str,
                   access_token: str, token_secret: str) -> str | None:
    """None if `authorization` is a valid OAuth 1.0a HMAC-SHA1 header for these keys; else what is wrong."""
    if not authorization or not authorization.startswith("OAuth "):
        return "no OAuth 1.0a Authorization header"
    headers = {"Authorization": authorization}
    params = dict(signature.collect_parameters(headers=headers, exclude_oauth_signature=False))
    if params.get("oauth_consumer_key") != consumer_key or params.get("oauth_token") != access_token:
        return "unknown consumer key or access token"
    if params.get("oauth_signature_method") != "HMAC-SHA1":
        return "unsupported signature method"
    request = OAuthRequest(url, method, None, headers)
    request.params = signature.collect_parameters(uri_query=request.uri_query, headers=headers,
                                                  exclude_oauth_signature=True)
    request.signature = params.get("oauth_signature", "")
    if not signature.verify_hmac_sha1(request, consumer_secret, token_secret):
        return "signature does not match"
    return None
