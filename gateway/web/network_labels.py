"""Labels of the network page (``/network``), French first; merged into ``page_labels``."""

from __future__ import annotations

from typing import Any

NETWORK_LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "nav_network": "Réseau",
        "network_title": "Le réseau des écoles",
        "network_note": "Des totaux par école et par machine, jamais un nom : rien d'un élève ne quitte son école.",
        "network_school": "École",
        "network_online": "Machines en ligne",
        "network_utilisation": "Utilisation",
        "network_oee": "TRS",
        "network_parts": "Pièces bonnes",
        "network_scrap": "Rebuts",
        "network_practice": "Heures de pratique",
        "network_free": "Capacité libre",
        "network_planned": "Temps planifié",
        "network_running": "En production",
        "network_median": "Médiane du réseau",
        "network_yours": "Votre école",
        "network_against": (
            "{site} : utilisation {mine}, TRS {oee} — médiane du réseau : utilisation {median}, TRS {median_oee}"
        ),
        "network_trends": "Utilisation sur les dernières semaines",
        "network_empty": "Aucune école n'a encore publié ses chiffres pour cette période.",
        "network_csv": "Télécharger en CSV",
        "network_as_of": "à",
    },
    "en": {
        "nav_network": "Network",
        "network_title": "The network of schools",
        "network_note": "Totals per school and per machine, never a name: nothing about a student leaves the school.",
        "network_school": "School",
        "network_online": "Machines online",
        "network_utilisation": "Utilisation",
        "network_oee": "OEE",
        "network_parts": "Good parts",
        "network_scrap": "Scrap",
        "network_practice": "Practice hours",
        "network_free": "Free capacity",
        "network_planned": "Planned time",
        "network_running": "Running",
        "network_median": "Network median",
        "network_yours": "Your school",
        "network_against": (
            "{site}: utilisation {mine}, OEE {oee} — network median: utilisation {median}, OEE {median_oee}"
        ),
        "network_trends": "Utilisation over the last weeks",
        "network_empty": "No school has published its figures for this period yet.",
        "network_csv": "Download as CSV",
        "network_as_of": "at",
    },
}


def merge_into(labels: dict[str, dict[str, Any]]) -> None:
    for lang, words in NETWORK_LABELS.items():
        labels[lang].update(words)
