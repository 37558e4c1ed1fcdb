"""The asyncio side: connections, deadlines, request/response exchanges."""
