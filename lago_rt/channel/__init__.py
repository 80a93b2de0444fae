"""Community channel actors: one per community (小区), composed of features (presence, chat, ...)."""
