# What the rabbitmq connector needs beyond the core build: librabbitmq (rabbitmq-c); its tests
# run a real rabbitmq-server and check it with python3-pika and amqp-tools (amqp-publish,
# amqp-consume, used by the benchmark). The Makefile includes every src/connectors/*/build.mk;
# scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lrabbitmq
ARROYO_PACKAGES += librabbitmq-dev rabbitmq-server python3-pika amqp-tools
