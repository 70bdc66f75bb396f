CREATE TABLE `socket_holders` (
	`user_id` text NOT NULL,
	`object` text NOT NULL,
	`project_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `object`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `socket_holders_project` ON `socket_holders` (`project_id`,`user_id`);