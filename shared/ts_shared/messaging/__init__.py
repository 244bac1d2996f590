"""Events, the message bus, the transactional outbox and the idempotent consumer."""
from ts_shared.messaging.bus import Subscription
from ts_shared.messaging.envelope import Event, InvalidEvent, new_event, parse_event

__all__ = ["Event", "InvalidEvent", "Subscription", "new_event", "parse_event"]
