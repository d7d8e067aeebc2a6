"""What the bot and the system say when they are not quoting the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BotMessages:
    company_name: str

    @property
    def fallback(self) -> str:
        return (
            "Sorry, I don't know the answer to that, and I'd rather not guess. "
            f"Would you like me to connect you with someone from the {self.company_name} team?"
        )

    def team_notice(self, back_at: str | None = None) -> str:
        """Who answers next and when: ``back_at`` is set when the team is away."""
        if back_at is None:
            return "A person will reply here as soon as they can."
        return (
            f"The team is away right now and back {back_at}; a person will reply here then. "
            "If you'd rather get the answer by email, leave your address."
        )

    def handoff_requested(self, back_at: str | None = None) -> str:
        return (f"Of course. I'm passing this conversation to the {self.company_name} team. "
                f"{self.team_notice(back_at)}")

    def handoff_after_fallbacks(self, back_at: str | None = None) -> str:
        return ("Sorry, I haven't been able to help with this. I'm passing the conversation to the "
                f"{self.company_name} team. {self.team_notice(back_at)}")

    def handoff_after_feedback(self, back_at: str | None = None) -> str:
        return ("Sorry my answers didn't help. I'm passing the conversation to the "
                f"{self.company_name} team. {self.team_notice(back_at)}")

    def agent_joined(self, name: str) -> str:
        return f"{name} from the {self.company_name} team has joined the conversation."

    def agent_left(self, name: str, back_at: str | None = None) -> str:
        return (f"{name} is no longer available, so your conversation is back in the queue for "
                f"the {self.company_name} team. {self.team_notice(back_at)}")

    @property
    def back_to_bot(self) -> str:
        return f"You're chatting with the {self.company_name} assistant again."

    @property
    def resolved(self) -> str:
        return ("This conversation is marked as resolved. If you need anything else, just write "
                "here. How did we do? You can rate this conversation from 1 to 5.")

    def email_noted(self, email: str) -> str:
        return f"Thanks, we'll reply to {email} too."
