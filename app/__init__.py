"""RoomStager: virtual staging and de-furnishing of room photos on the user's own GPU."""

__version__ = "0.1.0"
