// Placeholder until the canvas service lands (this session); delete when adding real sources.
