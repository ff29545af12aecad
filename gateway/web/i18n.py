"""Labels of the pages, French by default and English with ``?lang=en`` (then remembered in a cookie)."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

DEFAULT_LANG = "fr"
LANG_COOKIE = "atelier_lang"

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Atelier — état des machines",
        "heading": "État des machines",
        "connection_lost": "Connexion au serveur perdue — nouvelle tentative…",
        "connecting": "Connexion…",
        "no_machines": "Aucune machine annoncée pour l'instant. Démarrez un agent de l'atelier.",
        "machines": "machines",
        "program": "Programme",
        "mode": "Mode",
        "parts": "Pièces",
        "parts_today": "aujourd'hui",
        "last_cycle": "Dernier cycle",
        "in_state": "Depuis",
        "tool": "Outil",
        "emergency_stop": "ARRÊT D'URGENCE",
        "cycle": "Cycle en cours",
        "good_of": "Bonnes",
        "practice": "Entraînement",
        "operation_short": "op.",
        "mismatch": "Programme {program} ≠ opération {operation} ({expected})",
        "status": {
            "running": "En production",
            "ready": "Prêt",
            "idle": "En attente",
            "stopped": "Arrêté",
            "hold": "En pause",
            "alarm": "Alarme",
            "offline": "Hors ligne",
        },
        "execution": {
            "ACTIVE": "En cycle",
            "READY": "Prêt",
            "INTERRUPTED": "Interrompu",
            "FEED_HOLD": "Arrêt avance",
            "STOPPED": "Arrêté",
            "OPTIONAL_STOP": "Arrêt optionnel",
            "PROGRAM_STOPPED": "Programme arrêté",
            "PROGRAM_COMPLETED": "Programme terminé",
        },
        "mode_names": {
            "AUTOMATIC": "Automatique",
            "MANUAL": "Manuel",
            "MANUAL_DATA_INPUT": "IMD",
            "EDIT": "Édition",
            "SEMI_AUTOMATIC": "Bloc à bloc",
        },
        "availability": {"AVAILABLE": "Disponible", "UNAVAILABLE": "Indisponible"},
    },
    "en": {
        "title": "Atelier — machine status",
        "heading": "Machine status",
        "connection_lost": "Connection to the server lost — retrying…",
        "connecting": "Connecting…",
        "no_machines": "No machine announced yet. Start a workshop agent.",
        "machines": "machines",
        "program": "Program",
        "mode": "Mode",
        "parts": "Parts",
        "parts_today": "today",
        "last_cycle": "Last cycle",
        "in_state": "For",
        "tool": "Tool",
        "emergency_stop": "EMERGENCY STOP",
        "cycle": "Current cycle",
        "good_of": "Good",
        "practice": "Practice",
        "operation_short": "op.",
        "mismatch": "Program {program} ≠ operation {operation} ({expected})",
        "status": {
            "running": "Running",
            "ready": "Ready",
            "idle": "Idle",
            "stopped": "Stopped",
            "hold": "On hold",
            "alarm": "Alarm",
            "offline": "Offline",
        },
        "execution": {
            "ACTIVE": "Active",
            "READY": "Ready",
            "INTERRUPTED": "Interrupted",
            "FEED_HOLD": "Feed hold",
            "STOPPED": "Stopped",
            "OPTIONAL_STOP": "Optional stop",
            "PROGRAM_STOPPED": "Program stopped",
            "PROGRAM_COMPLETED": "Program completed",
        },
        "mode_names": {
            "AUTOMATIC": "Automatic",
            "MANUAL": "Manual",
            "MANUAL_DATA_INPUT": "MDI",
            "EDIT": "Edit",
            "SEMI_AUTOMATIC": "Single block",
        },
        "availability": {"AVAILABLE": "Available", "UNAVAILABLE": "Unavailable"},
    },
}


def pick_lang(requested: str | None) -> str:
    return requested if requested in LABELS else DEFAULT_LANG


def lang_of(connection: HTTPConnection) -> str:
    """The caller's language: ``?lang=``, else the cookie a page set, else French."""
    return pick_lang(connection.query_params.get("lang") or connection.cookies.get(LANG_COOKIE))


def labels_for(lang: str) -> dict[str, Any]:
    return LABELS[pick_lang(lang)]
