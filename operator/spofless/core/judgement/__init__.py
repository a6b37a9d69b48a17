"""The judgement: single points of failure, findings, the what-if of losing a zone, and the room to absorb it."""
