"""Work on tickets: activities and reminders, time tracking and billing, resolutions and satisfaction."""
