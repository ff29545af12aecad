"""Who may speak for a machine: its owner, and what a refusal tells the master to do. Pure, no I/O.

A machine belongs to one agent: the agent that announced it in its status and
then published for it first (the broker's ACL lets only the agent configured
for a machine publish on its topics, so a machine nobody is configured for is
never created). Only an admin moves a machine to another agent
(``atelier gateway move-machine`` or ``POST /api/machines/{site}/{machine}/move``).
The texts below end up in the dead letters and the log, where a master reads them.
"""

from __future__ import annotations

MOVE_HINT = "atelier gateway move-machine --site {site} {machine} {agent}"


def move_command(site: str, machine: str, agent: str) -> str:
    return MOVE_HINT.format(site=site, machine=machine, agent=agent)


def foreign_message(*, site: str, machine: str, owner: str, sender: str, announced: bool) -> str:
    """A machine-topic message whose agent is not the machine's owner."""
    head = f"machine {machine!r} of site {site!r} belongs to agent {owner!r}, not to {sender!r} named in this message"
    if announced:
        return (
            f"{head}. Agent {sender!r} announces the machine too: if the machine was moved to that PC, move it "
            f"deliberately with '{move_command(site, machine, sender)}' (or the admin API), and the agent's "
            f"events are asked for again; if not, remove the machine from {sender!r}'s edge.toml"
        )
    return (
        f"{head}, which does not announce it: a misconfigured or forging publisher. Check which PC publishes on "
        f"this machine's topics (the broker's ACL should let only {owner!r} do so; see docs/security.md)"
    )


def foreign_claim(*, site: str, machine: str, owner: str, claimant: str) -> str:
    """An agent's status announcing a machine another agent owns."""
    return (
        f"status of agent {claimant!r} announces machine {machine!r} of site {site!r}, which belongs to agent "
        f"{owner!r}: the claim is ignored. If the machine was moved to {claimant!r}'s PC, run "
        f"'{move_command(site, machine, claimant)}' (or use the admin API); if not, remove it from "
        f"{claimant!r}'s edge.toml"
    )


def unannounced(*, site: str, machine: str, sender: str) -> str:
    """A message about a machine no agent owns yet, from an agent that does not announce it."""
    return (
        f"unknown machine {machine!r} on site {site!r}: agent {sender!r} named in this message does not announce it "
        "in its status (never announced by an agent birth); list the machine in that agent's edge.toml"
    )
