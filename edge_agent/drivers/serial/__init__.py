"""Serial drivers: GRBL status reports, Haas Q-commands and a retrofit sensor box, over pyserial."""
