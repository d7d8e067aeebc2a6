"""Knowledge-base search: parsing, chunking, embedding, hybrid ranking."""
