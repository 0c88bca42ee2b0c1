"""The host side: containers started per plugin, proxies that talk to their workers, the manager."""
