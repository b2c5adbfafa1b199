"""PII configuration: the entity tables, the span type and config validation (no Presidio).

The bottom of :mod:`lmdata.filters.pii` (imports nothing from the package): the filter
(:mod:`.filter`), the engines (:mod:`.engine`) and the package's users read these names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Real
from typing import NamedTuple

from lmdata.errors import ConfigError

#: English pattern entities of Presidio's default registry (all work offline)
SUPPORTED_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "MEDICAL_LICENSE",
    "PHONE_NUMBER",
    "UK_NHS",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
    "UUID",
)
DEFAULT_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
)
#: entities Presidio finds only with an NER model (not available offline)
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "AGE", "ID", "GPE")
#: ``{short}`` in a placeholder: "[{short}]" -> "[EMAIL]"
SHORT_LABELS: Mapping[str, str] = {
    "CREDIT_CARD": "CREDIT_CARD",
    "CRYPTO": "CRYPTO",
    "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "MAC_ADDRESS": "MAC",
    "MEDICAL_LICENSE": "MEDICAL_LICENSE",
    "PHONE_NUMBER": "PHONE",
    "UK_NHS": "NHS",
    "URL": "URL",
    "US_BANK_NUMBER": "BANK_NUMBER",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_ITIN": "ITIN",
    "US_PASSPORT": "PASSPORT",
    "US_SSN": "SSN",
    "UUID": "UUID",
}
DEFAULT_PLACEHOLDER = "<{entity}>"
DEFAULT_SCORE_THRESHOLD = 0.4
LANGUAGE = "en"


class PiiSpan(NamedTuple):
    entity_type: str
    start: int
    end: int
    score: float


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------


def validate_config(
    entities: Iterable[str] | None, placeholder: str, score_threshold: float
) -> tuple[tuple[str, ...], str, float]:
    """Normalized ``(entities, placeholder, score_threshold)``; ConfigError naming the key."""
    if entities is None:
        ents = DEFAULT_ENTITIES
    else:
        if isinstance(entities, str) or not isinstance(entities, Iterable):
            raise ConfigError(f"pii: entities: expected a list of entity names, got {entities!r}")
        ents_list = list(entities)
        if not ents_list:
            raise ConfigError("pii: entities: empty list (leave it out for the defaults)")
        for e in ents_list:
            if not isinstance(e, str):
                raise ConfigError(f"pii: entities: expected entity names, got {e!r}")
            if e in NER_ENTITIES:
                raise ConfigError(
                    f"pii: entities: {e!r} needs an NER model, which is not available offline; "
                    f"pattern entities: {', '.join(SUPPORTED_ENTITIES)}"
                )
            if e not in SUPPORTED_ENTITIES:
                raise ConfigError(
                    f"pii: entities: unknown entity {e!r}; supported: {', '.join(SUPPORTED_ENTITIES)}"
                )
        ents = tuple(sorted(set(ents_list)))
    if not isinstance(placeholder, str):
        raise ConfigError(f"pii: placeholder: expected a format string, got {placeholder!r}")
    try:
        placeholder.format(entity="EMAIL_ADDRESS", short="EMAIL")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"pii: placeholder: {placeholder!r} is not a valid format string with "
            f"{{entity}} / {{short}} ({exc})"
        ) from None
    if (
        isinstance(score_threshold, bool)
        or not isinstance(score_threshold, Real)
        or not 0.0 <= float(score_threshold) <= 1.0
    ):
        raise ConfigError(
            f"pii: score_threshold: expected a number in [0, 1], got {score_threshold!r}"
        )
    return ents, placeholder, float(score_threshold)
