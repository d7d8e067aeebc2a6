"""What the bot says when it is not quoting the knowledge base."""

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

    @property
    def handoff_requested(self) -> str:
        return (
            f"Of course. I'm passing this conversation to the {self.company_name} team; "
            "a person will reply here as soon as they can."
        )

    @property
    def handoff_after_fallbacks(self) -> str:
        return (
            "Sorry, I haven't been able to help with this. I'm passing the conversation to "
            f"the {self.company_name} team; a person will reply here as soon as they can."
        )
