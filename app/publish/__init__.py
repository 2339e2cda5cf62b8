"""Publishing to the home-automation hub: the MQTT connection (`mqtt`, the only paho user)."""

from app.publish.mqtt import Message, MqttClient, MqttStatus, Received

__all__ = ["Message", "MqttClient", "MqttStatus", "Received"]
