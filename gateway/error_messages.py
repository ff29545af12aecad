"""The message catalogue of the gateway's coded errors (``gateway.errors``), French first, English second.

A message names things as people know them: a machine by its label, an order by
its reference, a student by first name and initial (only for callers who may
see it; others read "a student"), a time in the school's zone. Never an
internal id, never UTC. The codes and their parameters are the API's contract
(``{"detail": {"code", "params", "message"}}``); a new error adds its code here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

DEFAULT_LANG = "fr"
_DOUBLE_DOT = re.compile(r"(?<=\w)\.\.(?!\.)")


@dataclass(frozen=True, slots=True)
class Named:
    """Something a message names: programs get its ``key`` (an id, a bus name), people its ``label``.

    ``personal``: a student's name, written only for callers who may see it (masters, the kiosk the
    student stands at); others read "a student".
    """

    key: int | str
    label: str
    personal: bool = False


_FR: dict[str, str] = {
    # not found (404)
    "customer_not_found": "Ce client n'existe pas.",
    "order_not_found": "Cette commande n'existe pas.",
    "calendar_closure_not_found": "Cette fermeture n'existe pas.",
    "calendar_exception_not_found": "Cette exception de machine n'existe pas.",
    "stop_reason_not_found": "Cette cause d'arrêt n'existe pas.",
    "stop_not_found": "Aucun arrêt de {machine} ne commence à {started}.",
    "student_not_found": "Cet élève n'existe pas.",
    "authorisation_not_found": "Cette habilitation n'existe pas.",
    "machine_group_not_found": "Ce groupe de machines n'existe pas.",
    "machine_group_name_taken": "Un groupe de machines s'appelle déjà {name}.",
    "authorisation_one_target": "Une habilitation porte sur une machine ou sur un groupe de machines, pas les deux.",
    "authorisation_ends_before_start": "Une habilitation doit finir après le jour où elle est accordée.",
    "competence_not_found": "Cette compétence n'existe pas.",
    "file_too_large": "Le fichier dépasse {limit_kib} Kio.",
    "evidence_of_another_student": (
        "Cette séance n'est pas celle de cet élève : une validation s'appuie sur son propre travail."
    ),
    "evidence_mismatch": (
        "Ces preuves ne vont pas ensemble : la première pièce, la séance et l'opération doivent être les mêmes."
    ),
    "evidence_not_worked": "Cet élève n'a travaillé cette opération dans aucune séance.",
    "first_part_approval_not_found": "Cette validation de première pièce n'existe pas.",
    "referentiel_refused": "Le référentiel n'a pas été importé : {count} problème(s), rien n'a été enregistré.",
    "authorisation_list_one_filter": "Donnez un élève ou une machine, pas les deux.",
    "not_authorised": "{student} ne peut pas utiliser {machine} : {missing}. Voyez un maître d'atelier.",
    "work_session_not_found": "Cette séance n'existe pas.",
    "operation_not_found": "Cette opération n'existe pas.",
    "user_not_found": "Ce compte n'existe pas.",
    "cycle_not_found": "Ce cycle n'existe pas.",
    "api_token_not_found": "Ce jeton n'existe pas.",
    "badge_unknown": "Badge {badge} inconnu : demandez à un maître d'atelier de l'enregistrer.",
    "machine_unknown": "La machine {machine} est inconnue (une machine apparaît quand son agent se connecte).",
    # conflicts (409)
    "machine_ambiguous": "La machine {machine} existe sur plusieurs sites ({sites}) : précisez le site.",
    "machine_taken": "La machine {machine} est déjà occupée par {student} depuis le {since}.",
    "session_overlap": "Cette séance chevauche celle de {student} sur {machine} (à partir du {since}).",
    "student_busy": "{student} est déjà en poste sur {machine} depuis le {since} : terminez d'abord cette séance.",
    "student_inactive": "{student} n'est plus actif dans l'atelier : voyez un maître d'atelier.",
    "order_done": "La commande {order} est terminée : on ne peut plus y travailler.",
    "order_cancelled": "La commande {order} est annulée : on ne peut plus y travailler.",
    "nobody_checked_in": "Personne n'est en poste sur {machine}.",
    "not_your_session": "Ce badge n'est pas celui de l'élève en poste sur {machine}.",
    "cycle_other_machine": "Ce cycle a tourné sur une autre machine que cette séance.",
    "customer_name_taken": "Un client nommé « {name} » existe déjà.",
    "customer_has_orders": "Le client {customer} a encore {orders} commande(s) : supprimez-les ou déplacez-les.",
    "order_reference_taken": "{customer} a déjà une commande {reference}.",
    "order_has_work": "La commande {order} a des séances ou des rebuts : passez-la en « annulée » plutôt.",
    "badge_taken": "Le badge {badge} est déjà attribué à {student}.",
    "operation_other_machine": "L'opération {number} de la commande {order} ne se fait pas sur {machine}.",
    "operation_number_taken": "La commande {order} a déjà une opération {number}.",
    "operation_in_use": "L'opération {number} de la commande {order} a déjà servi : elle ne peut plus être supprimée.",
    "no_series": "Aucune série de l'opération {number} n'a commencé sur {machine} : pas de premier article à valider.",
    "username_taken": "L'identifiant « {username} » est déjà pris.",
    "idempotency_key_reused": "Cette déclaration a déjà été envoyée avec d'autres valeurs.",
    "clash": "La modification entre en conflit avec une autre faite au même moment : réessayez.",
    # invalid input (422)
    "machine_required": "Indiquez la machine.",
    "badge_required": "Passez votre badge.",
    "operation_required": "La commande {order} a plusieurs opérations ({numbers}) : choisissez la vôtre.",
    "operation_not_of_order": "Cette opération n'est pas une opération de la commande {order}.",
    "operation_no_order": "Une séance sans commande (entraînement) n'a pas d'opération.",
    "nok_needs_note": "Un premier article non conforme demande une note (ce qui ne va pas).",
    "badge_master_only": "Seul le compte d'un maître d'atelier porte un badge.",
    "kiosk_badge_only": "Au poste, un élève se signale par son badge uniquement.",
    "session_ends_before_start": "Une séance doit finir après son début.",
    "period_date": "Une date de période s'écrit AAAA-MM-JJ (par exemple 2026-09-01).",
    "period_order": "La période doit commencer avant de finir : la date « du » est après la date « au ».",
    "period_range": "Une date de période doit être entre 2000 et 2100.",
    "period_mixed": "Donnez la période par from et to (jours) ou par since et until (instants), pas les deux.",
    "scrap_quantity": "La quantité de rebuts doit être positive ({quantity}).",
    "date_out_of_range": "La date {date} est hors limites (2000 à 2099).",
    "opening_hours_invalid": "Horaires du jour {day} (1 = lundi) : « {text} » ne se lit pas (ex. 08:00-12:00).",
    "dates_reversed": "La date de fin ({last}) précède la date de début ({first}).",
    "time_zone_unknown": "Fuseau horaire inconnu : « {zone} » (ex. Europe/Paris).",
    "exception_hours_needed": "Des heures supplémentaires demandent une heure de début et de fin.",
    "stop_reason_code_taken": "Le code « {code} » existe déjà sur ce site.",
    "stop_threshold_invalid": "Seuil d'arrêt : un nombre de minutes de 1 à 240 (« {minutes} »).",
    "label_required": "Indiquez un libellé.",
    "password_too_short": "Un mot de passe doit avoir au moins {min} caractères.",
    "student_login_needs_student": "Un compte élève doit être rattaché à un élève.",
    "admin_login_not_student": "Un compte de maître d'atelier ne peut pas être rattaché à un élève.",
    "viewer_login_not_student": "Un compte de consultation ne peut pas être rattaché à un élève.",
    "network_login_not_student": "Un compte du réseau ne peut pas être rattaché à un élève.",
    "user_sites_only_masters_viewers": "Seuls les maîtres d'atelier et les comptes de consultation ont des sites.",
    "site_required": "Vous agissez sur plusieurs sites ({sites}) : indiquez lequel (champ « site »).",
    "site_not_yours": "Le site « {site} » n'est pas l'un des vôtres ({sites}).",
    "group_machines_other_site": "Un groupe ne réunit que des machines de son site ({site}).",
    "order_customer_other_site": "Une commande reste chez un client de son site ({site}).",
    "site_invalid": "« {site} » n'est pas un identifiant de site (minuscules, chiffres, « - » et « _ »).",
    "site_unknown": "Aucun de vos sites ne s'appelle « {site} ».",
    "badge_taken_elsewhere": "Le badge {badge} est déjà attribué dans une autre école du réseau.",
    "user_other_sites": "Ce compte agit aussi sur des sites qui ne sont pas les vôtres ({sites}) : "
    "seul un maître d'atelier de tous ses sites le modifie.",
    "agent_id_invalid": "« {agent} » n'est pas un identifiant d'agent (minuscules, chiffres, « - » et « _ »).",
    "machine_owned_already": "La machine {machine} appartient déjà à l'agent {agent}.",
    "kiosk_token_needs_machine": "Un jeton de poste doit indiquer sa machine.",
    "token_machine_only_kiosk": "Seul un jeton de poste est rattaché à une machine.",
    # who may (401, 403)
    "not_logged_in": "Connectez-vous (ou envoyez un jeton Bearer).",
    "credentials_invalid": "Identifiants invalides ou expirés : reconnectez-vous.",
    "role_forbidden": "Réservé à : {allowed}. Vous êtes connecté comme {role}.",
    "own_log_only": "Un élève ne consulte que son propre carnet.",
    "master_badge_required": "Seul le badge d'un maître d'atelier valide un premier article.",
    "kiosk_other_machine": "Ce poste sert une autre machine.",
    "stop_needs_student": "Au poste, seul un élève en séance indique la cause d'un arrêt.",
    # logins (401, 403, 429, 503)
    "login_failed": "Identifiant ou mot de passe incorrect.",
    "token_invalid": "Ce jeton d'écran est inconnu, expiré ou révoqué : demandez-en un nouveau à un maître d'atelier.",
    "current_password_wrong": "Le mot de passe actuel est faux.",
    "too_many_logins": "Trop d'essais de connexion : réessayez dans {minutes} min.",
    "password_work_busy": "Trop de connexions en même temps : réessayez dans quelques secondes.",
    "own_sites": "Vous ne pouvez pas changer vos propres sites : demandez à un autre maître d'atelier.",
    "user_sites_empty": "Un compte garde au moins un site.",
    "own_login": "Vous ne pouvez pas désactiver votre propre compte : demandez à un autre maître d'atelier.",
    "login_without_password": "Seul le compte d'un maître d'atelier ou d'un élève a un mot de passe.",
    # the database (503)
    "database_busy": "La base de données est occupée : réessayez dans un instant.",
    # a plain message under a generic code
    "invalid": "{text}",
    "not_found": "{text}",
    "conflict": "{text}",
    "forbidden": "{text}",
}

_EN: dict[str, str] = {
    "customer_not_found": "This customer does not exist.",
    "order_not_found": "This order does not exist.",
    "calendar_closure_not_found": "This closure does not exist.",
    "calendar_exception_not_found": "This machine exception does not exist.",
    "stop_reason_not_found": "This stop reason does not exist.",
    "stop_not_found": "No stop of {machine} starts at {started}.",
    "student_not_found": "This student does not exist.",
    "authorisation_not_found": "This authorisation does not exist.",
    "machine_group_not_found": "This machine group does not exist.",
    "machine_group_name_taken": "A machine group is already called {name}.",
    "authorisation_one_target": "An authorisation covers one machine or one machine group, not both.",
    "authorisation_ends_before_start": "An authorisation must end after the day it is granted.",
    "competence_not_found": "This competence does not exist.",
    "file_too_large": "The file is larger than {limit_kib} KiB.",
    "evidence_of_another_student": "This session is not this student's: a validation rests on their own work.",
    "evidence_mismatch": "This evidence does not agree: the first part, the session and the operation must match.",
    "evidence_not_worked": "This student has worked this operation in no session.",
    "first_part_approval_not_found": "This first-part approval does not exist.",
    "referentiel_refused": "The référentiel was not imported: {count} problem(s), nothing was saved.",
    "authorisation_list_one_filter": "Give a student or a machine, not both.",
    "not_authorised": "{student} may not use {machine}: {missing}. See a workshop master.",
    "work_session_not_found": "This session does not exist.",
    "operation_not_found": "This operation does not exist.",
    "user_not_found": "This login does not exist.",
    "cycle_not_found": "This cycle does not exist.",
    "api_token_not_found": "This token does not exist.",
    "badge_unknown": "Unknown badge {badge}: ask a workshop master to register it.",
    "machine_unknown": "Machine {machine} is unknown (a machine appears once its agent reports).",
    "machine_ambiguous": "Machine {machine} exists on several sites ({sites}): give the site.",
    "machine_taken": "Machine {machine} is already taken by {student} since {since}.",
    "session_overlap": "This session overlaps {student}'s on {machine} (from {since}).",
    "student_busy": "{student} is already checked in on {machine} since {since}: end that session first.",
    "student_inactive": "{student} is no longer active in the workshop: see a workshop master.",
    "order_done": "Order {order} is done: no more work can be booked on it.",
    "order_cancelled": "Order {order} is cancelled: no more work can be booked on it.",
    "nobody_checked_in": "Nobody is checked in on {machine}.",
    "not_your_session": "This badge is not the one of the student checked in on {machine}.",
    "cycle_other_machine": "This cycle ran on another machine than this session.",
    "customer_name_taken": "A customer named '{name}' already exists.",
    "customer_has_orders": "Customer {customer} still has {orders} order(s): delete or move them first.",
    "order_reference_taken": "{customer} already has an order {reference}.",
    "order_has_work": "Order {order} has work sessions or scrap: set it to cancelled instead of deleting it.",
    "badge_taken": "Badge {badge} is already given to {student}.",
    "operation_other_machine": "Operation {number} of order {order} is not done on {machine}.",
    "operation_number_taken": "Order {order} already has an operation {number}.",
    "operation_in_use": "Operation {number} of order {order} has been worked on: it can no longer be deleted.",
    "no_series": "No series of operation {number} has started on {machine}: no first part to approve.",
    "username_taken": "Username '{username}' is taken.",
    "idempotency_key_reused": "This declaration was already sent with other values.",
    "clash": "The change clashes with another one made at the same time: try again.",
    "machine_required": "Give the machine.",
    "badge_required": "Scan your badge.",
    "operation_required": "Order {order} has several operations ({numbers}): choose yours.",
    "operation_not_of_order": "This operation is not one of order {order}.",
    "operation_no_order": "A session without an order (practice) has no operation.",
    "nok_needs_note": "A first part that is not conform needs a note (what is wrong).",
    "badge_master_only": "Only a workshop master's login carries a badge.",
    "kiosk_badge_only": "At a kiosk, students identify themselves by badge only.",
    "session_ends_before_start": "A session must end after it starts.",
    "period_date": "A period's date is written YYYY-MM-DD (for example 2026-09-01).",
    "period_order": "A period must start before it ends: the 'from' date is after the 'to' date.",
    "period_range": "A period's dates must be between 2000 and 2100.",
    "period_mixed": "Give the period by from and to (days) or by since and until (instants), not both.",
    "scrap_quantity": "A scrap quantity must be positive ({quantity}).",
    "date_out_of_range": "Date {date} is out of range (2000 to 2099).",
    "opening_hours_invalid": 'Hours of {day}: "{text}" cannot be read (e.g. 08:00-12:00, 13:00-17:00).',
    "dates_reversed": "The last day ({last}) is before the first ({first}).",
    "time_zone_unknown": 'Unknown time zone: "{zone}" (e.g. Europe/Paris).',
    "exception_hours_needed": "Extra hours need a start and an end time.",
    "stop_reason_code_taken": 'The code "{code}" already exists on this site.',
    "stop_threshold_invalid": 'Stop threshold: a number of minutes from 1 to 240 ("{minutes}").',
    "label_required": "Give a label.",
    "password_too_short": "A password needs at least {min} characters.",
    "student_login_needs_student": "A student login needs the student it belongs to.",
    "admin_login_not_student": "A master's login cannot belong to a student.",
    "viewer_login_not_student": "A viewer's login cannot belong to a student.",
    "network_login_not_student": "A network login cannot belong to a student.",
    "user_sites_only_masters_viewers": "Only masters and viewers have sites.",
    "site_required": "You act on several sites ({sites}): say which one (field 'site').",
    "site_not_yours": "Site '{site}' is not one of yours ({sites}).",
    "group_machines_other_site": "A group holds machines of its own site only ({site}).",
    "order_customer_other_site": "An order stays with a customer of its own site ({site}).",
    "site_invalid": "'{site}' is not a site id (lower-case letters, digits, '-' and '_').",
    "site_unknown": "None of your sites is called '{site}'.",
    "badge_taken_elsewhere": "Badge {badge} is already given in another school of the network.",
    "user_other_sites": "This login also acts on sites that are not yours ({sites}): "
    "only a master of all its sites changes it.",
    "agent_id_invalid": "'{agent}' is not an agent id (lower-case letters, digits, '-' and '_').",
    "machine_owned_already": "Machine {machine} already belongs to agent {agent}.",
    "kiosk_token_needs_machine": "A kiosk token needs the machine it stands at.",
    "token_machine_only_kiosk": "Only a kiosk token is bound to a machine.",
    "not_logged_in": "Log in (or send a Bearer token).",
    "credentials_invalid": "Invalid or expired credentials: log in again.",
    "role_forbidden": "Only for: {allowed}. You are logged in as {role}.",
    "own_log_only": "A student may read only their own practice log.",
    "master_badge_required": "Only a workshop master's badge approves a first part.",
    "kiosk_other_machine": "This kiosk serves another machine.",
    "stop_needs_student": "At a kiosk, only a student checked in says why the machine stopped.",
    "login_failed": "Wrong username or password.",
    "token_invalid": "This screen token is unknown, expired or revoked: ask a workshop master for a new one.",
    "current_password_wrong": "The current password is wrong.",
    "too_many_logins": "Too many login attempts: try again in {minutes} min.",
    "password_work_busy": "Too many logins at once: try again in a few seconds.",
    "own_sites": "You cannot change your own sites: ask another master.",
    "user_sites_empty": "A login keeps at least one site.",
    "own_login": "You cannot disable your own login: ask another master.",
    "login_without_password": "Only a master's or a student's login has a password.",
    "database_busy": "The database is busy: try again in a moment.",
    "invalid": "{text}",
    "not_found": "{text}",
    "conflict": "{text}",
    "forbidden": "{text}",
}

MESSAGES: dict[str, dict[str, str]] = {"fr": _FR, "en": _EN}

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "someone": "un élève",
        "time": "%d/%m à %H:%M",
        "or": " ou ",
        "admin": "maître d'atelier",
        "kiosk": "poste de machine",
        "viewer": "écran d'atelier",
        "student": "élève",
        "network": "réseau des écoles",
        "no_authorisation": "aucune habilitation sur cette machine",
        "authorisation_not_yet_valid": "son habilitation n'est pas encore valable",
        "authorisation_expired": "son habilitation a expiré le {until}",
        "training_missing": "la date de la formation à la sécurité manque",
        "medical_fitness_expired": "l'avis d'aptitude médicale n'est plus valable ({until})",
        "medical_fitness_missing": "la date de validité de l'avis d'aptitude médicale manque",
        "master_on_duty_required": "un maître d'atelier doit être de service (travail sous surveillance directe)",
        "and": ", ",
    },
    "en": {
        "someone": "a student",
        "time": "%d/%m %H:%M",
        "or": " or ",
        "admin": "workshop master",
        "kiosk": "machine kiosk",
        "viewer": "workshop screen",
        "student": "student",
        "network": "network of schools",
        "no_authorisation": "no authorisation on this machine",
        "authorisation_not_yet_valid": "their authorisation is not valid yet",
        "authorisation_expired": "their authorisation expired on {until}",
        "training_missing": "the date of the safety training is missing",
        "medical_fitness_expired": "the medical fitness opinion is no longer valid ({until})",
        "medical_fitness_missing": "the date the medical fitness opinion is valid until is missing",
        "master_on_duty_required": "a workshop master must be on duty (direct supervision only)",
        "and": ", ",
    },
}


def render(code: str, params: dict[str, Any], *, lang: str, zone: tzinfo, names: bool) -> str:
    """The message of ``code`` in ``lang`` (French when unknown); ``names``: the caller may read student names."""
    lang = lang if lang in MESSAGES else DEFAULT_LANG
    words = _WORDS[lang]
    shown = {key: _shown(key, value, words, zone, names) for key, value in params.items()}
    if "missing" in shown:
        shown["missing"] = shown["missing"].replace("{until}", str(params.get("until") or "—"))
    template = MESSAGES[lang].get(code, code)
    try:
        text = template.format_map(shown)
    except (KeyError, IndexError, ValueError):
        return code
    # A student's name ends with its initial's dot ("Léa M."): at the end of a sentence, one dot, not two.
    return _DOUBLE_DOT.sub(".", text)


def _shown(key: str, value: Any, words: dict[str, str], zone: tzinfo, names: bool) -> str:
    if isinstance(value, Named):
        return value.label if names or not value.personal else words["someone"]
    if value is None:
        return words["someone"] if key == "student" else "—"
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime(words["time"])
    if key == "missing":  # what an authorisation lacks, each in words; the date they name is in ``until``
        return words["and"].join(words.get(str(m), str(m)) for m in value)
    if key in ("role", "allowed"):
        roles = value if isinstance(value, list | tuple) else [value]
        return words["or"].join(words.get(str(r), str(r)) for r in roles)
    return str(value)
