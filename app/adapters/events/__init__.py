"""Real-time transport: broadcaster with this project's Redis and memory backends, bounded
subscribers, the EventBus over them (bus.py), and the price feeds with replay."""
