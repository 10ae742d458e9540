"""Operations shared by the chat commands, the scheduled tasks and the web console: each takes
who acts (an `Actor`), checks their rights, writes, and says what to tell whom. The chat
handlers and the web routes only parse and format."""
