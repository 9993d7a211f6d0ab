"""Input and output of the API token endpoints. A token's key appears in one response only:
the one that issues it."""

from __future__ import annotations

from typing import Any

from knox.models import AuthToken
from rest_framework import serializers


class ApiTokenObtainSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    # Bounded: hashing a megabyte-long password would be work for nothing.
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class ApiTokenIssuedSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(
        source="key", read_only=True, help_text="The key: send it as `Token <key>`. Shown once."
    )
    prefix = serializers.CharField(
        source="token.token_key", read_only=True, help_text="Names the token in lists and URLs."
    )
    created = serializers.DateTimeField(source="token.created", read_only=True)
    expiry = serializers.DateTimeField(source="token.expiry", read_only=True, allow_null=True)


class ApiTokenSerializer(serializers.ModelSerializer[AuthToken]):
    prefix = serializers.CharField(source="token_key", read_only=True)
    current = serializers.SerializerMethodField(
        help_text="Whether this request authenticated with this token."
    )

    class Meta:
        model = AuthToken
        fields = ["prefix", "created", "expiry", "current"]
        read_only_fields = fields

    def get_current(self, token: AuthToken) -> bool:
        request = self.context.get("request")
        presented = getattr(request, "auth", None)
        return isinstance(presented, AuthToken) and presented.digest == token.digest
